"""PostgreSQL through SQLAlchemy 2 Core and psycopg 3: the `rds` sink.

Tables, made on first use (CREATE ... IF NOT EXISTS under a transaction advisory lock, so two
processes starting together do not race):

<table>: one row per stored thing, `id` (BIGSERIAL) in write order. Columns provider, league,
    event_id, slate_date, kind ('event' | 'odds' | 'heartbeat'), data JSONB (the record's
    to_dict, or the event's), created_at, idem_key (unique). Indexes on provider, league,
    event_id, created_at, and (provider, league, slate_date, event_id, id) for the reads.
<table>_snapshots: provider, league, snapshot_date (YYYYMMDD), payload JSONB (the snapshot's
    to_dict), received_at; unique on (provider, league, snapshot_date).

Idempotency: a record's idem_key is `model.record_key` (the digest of its JSON), an event's is
"event:<provider>:<league>:<slate>:<event_id>". Records go in with ON CONFLICT (idem_key) DO
NOTHING, so a batch passed again (or replayed from a spill file) adds no row.

Every write is one transaction, committed before the call returns: flush() has nothing to do.
A failure is a SinkError naming the target (the URI with its password as ***, and the table):
the server or the network (down, restarting, a timeout, a failover) is not permanent, and the
pool (pre-ping; SQLAlchemy drops it on a disconnect) reconnects on the next call; what we sent
(bad data, a constraint, no permission) is permanent.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import orjson
import psycopg
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import JSONB, distinct_on
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.postgresql.base import RESERVED_WORDS
from sqlalchemy.engine import URL, make_url

from snuper.ids import IdError, IdField, check_id
from snuper.model import (
    Heartbeat,
    LastPrice,
    OddsUpdate,
    Record,
    Snapshot,
    json_key,
    record_from_dict,
)
from snuper.sinks.base import LoadedSnapshots, SinkBusy, SinkConfigError, SinkError

if TYPE_CHECKING:
    from snuper.config import SinkSettings

log = logging.getLogger("snuper.sinks.rds")

URI_FLAG = "--rds-uri"
TABLE_FLAG = "--rds-table"
DRIVER = "postgresql+psycopg"
SNAPSHOTS_SUFFIX = "_snapshots"
MAX_IDENTIFIER = 63  # PostgreSQL cuts longer names silently
CONNECT_TIMEOUT_S = 3  # an outage fails fast: the fanout retries and spills
CLAIM_CHECK_S = 10.0  # how often a flush checks that the claims' session is alive
_TABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_MAX_TABLE = MAX_IDENTIFIER - len(SNAPSHOTS_SUFFIX)
_REASON_CHARS = 300
# SQLSTATEs that name the server's state, not what we sent: a read-only transaction (a failover
# in progress), an undefined table (dropped under us; made again on the next call).
_TRANSIENT_STATES = frozenset({"25006", "42P01"})
_UNDEFINED_TABLE = "42P01"
_RECORD_KINDS = ("odds", "heartbeat")
_Key = tuple[str, str, str]  # provider, league, slate date


# -- settings: pure checks the CLI calls without connecting ---------------------------------------


def check_table(name: str) -> str:
    """The primary table's name, folded to lowercase as PostgreSQL folds an unquoted one (so
    `psql` finds it unquoted); SinkConfigError (--rds-table) unless a plain SQL identifier that
    leaves room for the `_snapshots` suffix."""
    if not _TABLE.fullmatch(name):
        problem = (
            f"expected a plain SQL identifier (letters, digits, _; not a digit first), got {name!r}"
        )
        raise SinkConfigError(TABLE_FLAG, problem)
    if name.lower() in RESERVED_WORDS:  # usable only quoted: not plain
        raise SinkConfigError(TABLE_FLAG, f"{name!r} is a reserved word in PostgreSQL")
    if len(name) > _MAX_TABLE:
        problem = f"at most {_MAX_TABLE} characters (room for {SNAPSHOTS_SUFFIX}), got {len(name)}"
        raise SinkConfigError(TABLE_FLAG, problem)
    return name.lower()


def normalise_uri(uri: str) -> str:
    """`uri` with the psycopg 3 driver (postgresql:// and postgres:// become postgresql+psycopg://);
    SinkConfigError (--rds-uri) for anything but a PostgreSQL URI. Messages show it redacted."""
    url = _parse(uri)
    return url.set(drivername=DRIVER).render_as_string(hide_password=False)


def _parse(uri: str) -> URL:
    try:
        url = make_url(uri.strip())
    except (sa_exc.ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise SinkConfigError(URI_FLAG, f"not a database URI: {redacted(uri)!r}") from None
    backend, _, driver = url.drivername.partition("+")
    if backend not in ("postgresql", "postgres"):
        problem = f"not a PostgreSQL URI (postgresql://user:pass@host/db): {redacted(uri)!r}"
        raise SinkConfigError(URI_FLAG, problem)
    if driver not in ("", "psycopg"):
        problem = f"the rds sink uses psycopg 3 ({DRIVER}://), not {url.drivername}://"
        raise SinkConfigError(URI_FLAG, problem)
    return url


# A password in text that does not parse as a URI: user:<password>@ and password=<value>.
_NETLOC_PASSWORD = re.compile(r"(://[^:/?#@\s]*:)[^\s]*@")
_QUERY_PASSWORD = re.compile(r"(password=)[^&\s]*", re.IGNORECASE)


def redacted(uri: str) -> str:
    """`uri` with its password (in the user part or a password= parameter) shown as ***."""
    try:
        url = make_url(uri.strip())
    except (sa_exc.ArgumentError, ValueError):
        return _QUERY_PASSWORD.sub(r"\1***", _NETLOC_PASSWORD.sub(r"\1***@", uri))
    return _redact_url(url)


def _redact_url(url: URL) -> str:
    if "password" in url.query:
        url = url.update_query_dict({"password": "***"})
    return url.render_as_string(hide_password=True).replace("password=%2A%2A%2A", "password=***")


def _secrets(url: URL) -> list[str]:
    query_password = url.query.get("password")
    found = [url.password, *([query_password] if isinstance(query_password, str) else [])]
    return [secret for secret in found if secret]


# -- engines: one pool per process and URI (a Lambda reuses it across invocations) ----------------

_engines: dict[str, sa.Engine] = {}
_engines_lock = threading.Lock()


def _dumps(value: object) -> str:
    return orjson.dumps(value).decode()


def make_engine(uri: str) -> sa.Engine:
    """A new Engine for `uri` (not cached; `engine_for` is): pre-ping on checkout, so a
    connection the server dropped is replaced, and a short connect timeout."""
    url = make_url(normalise_uri(uri))
    connect_args: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT_S}
    if "application_name" not in url.query:
        # Shown in pg_stat_activity: a SinkBusy names the monitor that holds a league.
        connect_args["application_name"] = f"snuper[{os.getpid()}]"
    return sa.create_engine(
        url,
        pool_pre_ping=True,
        connect_args=connect_args,
        json_serializer=_dumps,
        json_deserializer=orjson.loads,
    )


def engine_for(uri: str) -> sa.Engine:
    """The process's Engine for `uri` (made on first call; postgres:// and postgresql:// of the
    same server share one). Creating it does not connect."""
    key = normalise_uri(uri)
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _engines[key] = make_engine(key)
    return engine


def build(settings: SinkSettings) -> RdsSink:
    """An RdsSink on settings.rds_uri and rds_table; SinkConfigError names the flag to fix.
    Nothing connects here: an unreachable server is a (retryable) SinkError on first use."""
    if not settings.rds_uri:
        raise SinkConfigError(URI_FLAG, "the rds sink needs a PostgreSQL URI (postgresql://...)")
    table = check_table(settings.rds_table)
    return RdsSink(engine_for(settings.rds_uri), table)


# -- schema ---------------------------------------------------------------------------------------


def _name(table: str, suffix: str) -> str:
    """<table>_<suffix>; past 63 characters the table part is cut and a digest of it added
    (PostgreSQL would cut the end silently, and two cut names could collide)."""
    name = f"{table}_{suffix}"
    if len(name) <= MAX_IDENTIFIER:
        return name
    digest = hashlib.blake2b(table.encode(), digest_size=4).hexdigest()
    return f"{table[: MAX_IDENTIFIER - len(suffix) - len(digest) - 2]}_{digest}_{suffix}"


def _moment(name: str) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def _text(name: str) -> sa.Column[str]:
    return sa.Column(name, sa.Text, nullable=False)


def _schema(table: str) -> tuple[sa.MetaData, sa.Table, sa.Table]:
    meta = sa.MetaData()
    records = sa.Table(
        table,
        meta,
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),  # BIGSERIAL
        *(_text(name) for name in ("provider", "league", "event_id", "kind", "slate_date")),
        sa.Column("data", JSONB, nullable=False),
        _moment("created_at"),
        _text("idem_key"),
        sa.UniqueConstraint("idem_key", name=_name(table, "idem_key_key")),
        sa.CheckConstraint("kind IN ('event', 'odds', 'heartbeat')", name=_name(table, "kind")),
        *(sa.Index(_name(table, f"{c}_idx"), c) for c in ("provider", "league", "event_id")),
        sa.Index(_name(table, "created_at_idx"), "created_at"),
        # read_event and last_prices: one event's rows of a slate, in id order.
        sa.Index(_name(table, "event_idx"), "provider", "league", "slate_date", "event_id", "id"),
    )
    snapshots_name = table + SNAPSHOTS_SUFFIX
    snapshots = sa.Table(
        snapshots_name,
        meta,
        *(_text(name) for name in ("provider", "league", "snapshot_date")),
        sa.Column("payload", JSONB, nullable=False),
        _moment("received_at"),
        # Its index is the one load_snapshots reads by.
        sa.UniqueConstraint(
            "provider", "league", "snapshot_date", name=_name(snapshots_name, "key")
        ),
    )
    return meta, records, snapshots


def lock_key(text: str) -> int:
    """A stable signed 64-bit advisory lock key for `text`."""
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


# -- errors ---------------------------------------------------------------------------------------


def is_transient(exc: BaseException) -> bool:
    """Whether a retry may succeed: the server or the network (down, restarting, a failover, a
    timeout, too many connections, a full disk) rather than what we sent."""
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        exc = exc.orig or exc
    if isinstance(exc, sa_exc.TimeoutError | sa_exc.DisconnectionError):  # pool, pre-ping
        return True
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        return True
    return isinstance(exc, psycopg.Error) and exc.sqlstate in _TRANSIENT_STATES


def _sqlstate(exc: BaseException) -> str | None:
    orig = exc.orig if isinstance(exc, sa_exc.DBAPIError) else exc
    return orig.sqlstate if isinstance(orig, psycopg.Error) else None


def _reason(exc: BaseException, secrets: Sequence[str]) -> str:
    """The driver's message in one bounded line (not SQLAlchemy's, which quotes the statement
    and its parameters), with any password in it masked."""
    orig = exc.orig if isinstance(exc, sa_exc.StatementError) and exc.orig else exc
    text = " ".join(str(orig).split("\n[SQL:")[0].split()) or type(orig).__name__
    for secret in secrets:
        text = text.replace(secret, "***")
    if len(text) > _REASON_CHARS:
        text = text[: _REASON_CHARS - 3] + "..."
    return text


def _check_ids(what: str, ids: Mapping[IdField, str]) -> None:
    """SinkError (permanent) when an id that would become a row (or a bound of a query) is not
    valid: ids are checked where they enter, so this is a bug upstream, not an outage."""
    for field, value in ids.items():
        try:
            check_id(field, value)
        except IdError as exc:
            raise SinkError(f"refusing {what}: {exc}", permanent=True) from None


# -- the sink -------------------------------------------------------------------------------------


class RdsSink:
    name: ClassVar[str] = "rds"
    thread_safe: ClassVar[bool] = True  # the pool hands each call a connection of its own
    wants_raw: ClassVar[bool] = False

    def __init__(self, engine: sa.Engine, table: str = "snuper_events") -> None:
        self._engine = engine
        self.table = check_table(table)
        self._meta, self._records, self._snapshots = _schema(self.table)
        self._url = _redact_url(engine.url)
        self._secrets = _secrets(engine.url)
        self._ready = False  # tables made (or found) by this sink
        self._lock = threading.Lock()  # claims
        self._claim_conn: sa.Connection | None = None
        self._claimed: set[int] = set()
        self._claim_names: dict[int, str] = {}  # key -> "provider league", for messages
        self._claims_checked = time.monotonic()
        self._insert_records = pg_insert(self._records).on_conflict_do_nothing(
            index_elements=["idem_key"]
        )

    @property
    def target(self) -> str:
        """The database and table, password masked: what every message names."""
        return f"{self._url} table {self.table}"

    def describe(self, snapshot: Snapshot) -> str:
        key = f"{snapshot.provider}/{snapshot.league}/{snapshot.slate_date}"
        return f"{self._url} table {self._snapshots.name} ({key})"

    @contextlib.contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Database failures as SinkError: "cannot <action> <target>: <reason>"."""
        try:
            yield
        except (sa_exc.SQLAlchemyError, psycopg.Error) as exc:
            if _sqlstate(exc) == _UNDEFINED_TABLE:
                self._ready = False  # dropped under us: make them again next time
            reason = _reason(exc, self._secrets)
            message = f"cannot {action} {self.target}: {reason}"
            raise SinkError(message, permanent=not is_transient(exc)) from exc

    def _ensure_tables(self) -> None:
        if self._ready:
            return
        with self._engine.begin() as conn:
            # Serialises the CREATEs of processes starting together (IF NOT EXISTS still races).
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(lock_key(f"snuper:{self.table}"))))
            self._meta.create_all(conn, checkfirst=True)
        self._ready = True

    # -- snapshots ----------------------------------------------------------------------------

    def save_snapshot(self, snapshot: Snapshot, *, overwrite: bool = False) -> bool:
        """The snapshot row and one 'event' row per event, in one transaction. An existing
        readable snapshot is kept unless overwrite; an unreadable one is replaced (a WARNING).
        Replacing also replaces the slate's event rows (events the book dropped go)."""
        key = (snapshot.provider, snapshot.league, snapshot.slate_date)
        _check_ids("a snapshot", {"provider": key[0], "league": key[1], "slate_date": key[2]})
        events = [_event_row(key, event.event_id, event.to_dict()) for event in snapshot.events]
        with self._errors("save a snapshot to"):
            self._ensure_tables()
            with self._engine.begin() as conn:
                if not self._put_snapshot(conn, key, snapshot.to_dict(), overwrite):
                    return False
                self._replace_events(conn, key, events)
        return True

    def _snapshot_match(self, provider: str, league: str, slate: str) -> sa.ColumnElement[bool]:
        s = self._snapshots.c
        return sa.and_(s.provider == provider, s.league == league, s.snapshot_date == slate)

    def _put_snapshot(
        self, conn: sa.Connection, key: _Key, payload: dict[str, Any], overwrite: bool
    ) -> bool:
        """Insert or replace the snapshot row; False (nothing written) to keep a readable one."""
        found = conn.execute(
            sa.select(self._snapshots.c.payload).where(self._snapshot_match(*key)).with_for_update()
        ).first()
        replace = overwrite
        if found is not None and not overwrite:
            problem = _snapshot_of(found.payload, key)
            if not isinstance(problem, str):
                return False
            log.warning("unreadable snapshot %s (%s) replaced", self._where(key), problem)
            replace = True
        c = self._snapshots.c
        insert = pg_insert(self._snapshots).values(
            provider=key[0], league=key[1], snapshot_date=key[2], payload=payload
        )
        index = [c.provider, c.league, c.snapshot_date]
        if replace:
            changes = {"payload": insert.excluded.payload, "received_at": sa.func.now()}
            statement = insert.on_conflict_do_update(index_elements=index, set_=changes)
        else:
            statement = insert.on_conflict_do_nothing(index_elements=index)
        # 0 rows: another writer saved this snapshot since our read; theirs is kept.
        return bool(conn.execute(statement).rowcount)

    def _replace_events(self, conn: sa.Connection, key: _Key, rows: list[dict[str, Any]]) -> None:
        t = self._records.c
        slate = sa.and_(t.provider == key[0], t.league == key[1], t.slate_date == key[2])
        conn.execute(sa.delete(self._records).where(slate, t.kind == "event"))
        if rows:
            insert = pg_insert(self._records)
            changes = {"data": insert.excluded.data, "created_at": sa.func.now()}
            conn.execute(
                insert.on_conflict_do_update(index_elements=[t.idem_key], set_=changes), rows
            )

    def _where(self, key: _Key) -> str:
        return f"{'/'.join(key)} in {self._url} table {self._snapshots.name}"

    def load_snapshots(
        self, provider: str, leagues: Sequence[str], slate: str | None = None
    ) -> LoadedSnapshots:
        """Per league, the snapshot of `slate`, else the newest earlier one (never a later one);
        without `slate`, the newest. One that cannot be read is reported, not skipped over."""
        wanted = list(dict.fromkeys(leagues))
        if slate is not None:
            _check_ids("a snapshot query", {"slate_date": slate})  # compared as text
        found = LoadedSnapshots()
        if not wanted:
            return found
        s = self._snapshots.c
        query = (
            sa.select(s.league, s.snapshot_date, s.payload)
            .ext(distinct_on(s.league))
            .where(s.provider == provider, s.league.in_(wanted))
            .order_by(s.league, s.snapshot_date.desc())
        )
        if slate is not None:
            query = query.where(s.snapshot_date <= slate)  # YYYYMMDD sorts as it reads
        with self._errors("read snapshots from"):
            self._ensure_tables()
            with self._engine.connect() as conn:
                latest = {row.league: row for row in conn.execute(query)}
        for league in wanted:
            row = latest.get(league)
            if row is None:
                continue
            key = (provider, league, row.snapshot_date)
            snapshot = _snapshot_of(row.payload, key)
            if isinstance(snapshot, str):
                found.unreadable[league] = f"cannot read snapshot {self._where(key)}: {snapshot}"
            else:
                found.snapshots.append(snapshot)
        return found

    # -- claims -------------------------------------------------------------------------------

    def claim(self, provider: str, league: str) -> None:
        """A session advisory lock on a connection of its own (out of the pool, so closing it
        ends the session), held until close(): the server drops it if this process dies."""
        _check_ids("a claim", {"provider": provider, "league": league})
        key = lock_key(f"snuper:{self.table}:{provider}:{league}")
        with self._lock, self._errors(f"claim {provider} {league} in"):
            if key in self._claimed:
                return
            conn = self._claim_connection()
            try:
                taken = _try_lock(conn, key)
            except sa_exc.DBAPIError:
                if not conn.invalidated:
                    raise
                # The session died since the last claim (out of the pool: never pinged), and
                # its locks with it: once more on a new one.
                conn = self._claim_connection()
                taken = _try_lock(conn, key)
            if not taken:
                holder = _holder(conn, key)
                raise SinkBusy(
                    f"{provider} {league} is already monitored into {self.target} ({holder})"
                )
            self._claimed.add(key)
            self._claim_names[key] = f"{provider} {league}"

    def _keep_claims(self) -> None:
        """The session holding the claims may die with the server (a restart, a failover),
        and its locks with it. At most every CLAIM_CHECK_S: take them again on a new session,
        or stop writing (permanent) if another monitor took one meanwhile."""
        with self._lock:
            if not self._claim_names or time.monotonic() - self._claims_checked < CLAIM_CHECK_S:
                return
            self._claims_checked = time.monotonic()
            with self._errors("check the claims in"):
                conn = self._claim_connection()
                try:
                    conn.execute(sa.select(1)).scalar_one()
                    conn.commit()
                    return
                except sa_exc.DBAPIError:
                    if not conn.invalidated:
                        raise
                conn = self._claim_connection()  # the old session is gone: so are its locks
                for key, name in self._claim_names.items():
                    if not _try_lock(conn, key):
                        raise SinkError(
                            f"{name}: the lock in {self.target} was lost and another monitor "
                            f"holds it now ({_holder(conn, key)}); stopping writes",
                            permanent=True,
                        )
                    self._claimed.add(key)
                log.warning("%s: the database session holding the claims was lost; claims "
                            "taken again", self.target)  # fmt: skip

    def _claim_connection(self) -> sa.Connection:
        conn = self._claim_conn
        if conn is None or conn.closed or conn.invalidated:
            if conn is not None and not conn.closed:
                with contextlib.suppress(sa_exc.SQLAlchemyError, psycopg.Error):
                    conn.close()  # a dead session: release what is left of it here
            conn = self._engine.connect()
            conn.detach()  # closing it closes the session, which releases its locks
            self._claim_conn = conn
            self._claimed.clear()  # a lost session lost its locks too
        return conn

    # -- odds -----------------------------------------------------------------------------------

    def last_prices(self, snapshot: Snapshot) -> list[LastPrice]:
        """The last odds row per event, market and side of the snapshot's events."""
        ids = [event.event_id for event in snapshot.events]
        if not ids:
            return []
        t = self._records.c
        market, side = t.data["market"].astext, t.data["side"].astext
        query = (
            sa.select(t.event_id, t.data)
            .ext(distinct_on(t.event_id, market, side))
            .where(
                t.provider == snapshot.provider,
                t.league == snapshot.league,
                t.slate_date == snapshot.slate_date,
                t.kind == "odds",
                t.event_id.in_(ids),
            )
            .order_by(t.event_id, market, side, t.id.desc())
        )
        with self._errors("read last prices from"):
            self._ensure_tables()
            with self._engine.connect() as conn:
                rows = conn.execute(query).all()
        return [price for row in rows if (price := _last_price(row.data, row.event_id))]

    def read_event(
        self, provider: str, league: str, slate_date: str, event_id: str
    ) -> list[Record]:
        """The event's odds and heartbeat rows in id (write) order."""
        t = self._records.c
        query = (
            sa.select(t.data)
            .where(
                t.provider == provider,
                t.league == league,
                t.slate_date == slate_date,
                t.event_id == event_id,
                t.kind.in_(_RECORD_KINDS),
            )
            .order_by(t.id)
        )
        with self._errors("read records from"):
            self._ensure_tables()
            with self._engine.connect() as conn:
                rows = conn.execute(query).scalars().all()
        records = []
        for data in rows:
            with contextlib.suppress(ValueError, TypeError):  # a row edited by hand
                records.append(record_from_dict(data))
        return records

    def write_updates(self, records: Sequence[Record]) -> None:
        """One transaction and one batched INSERT (psycopg pipelines the rows). Raw messages
        are not kept here (wants_raw is False) and are ignored."""
        rows = [_record_row(r) for r in records if isinstance(r, OddsUpdate | Heartbeat)]
        if not rows:
            return
        with self._errors("write to"):
            self._ensure_tables()
            with self._engine.begin() as conn:
                conn.execute(self._insert_records, rows)

    def flush(self, *, final: bool = False) -> None:
        """Every write_updates has committed before it returned; a flush only checks, now and
        then, that the claims are still held (see _keep_claims)."""
        self._keep_claims()

    def close(self) -> None:
        """Release the claims (closing their session); the pool stays for the next sink."""
        with self._lock:
            conn, self._claim_conn = self._claim_conn, None
            self._claimed.clear()
            self._claim_names.clear()
        if conn is None:
            return
        # Unlock first so the next claimer never races the server ending the session; if the
        # server is gone, so is the session and every lock it held.
        with contextlib.suppress(sa_exc.SQLAlchemyError, psycopg.Error):
            conn.execute(sa.select(sa.func.pg_advisory_unlock_all()))
            conn.commit()
        with contextlib.suppress(sa_exc.SQLAlchemyError, psycopg.Error):
            conn.close()


def _event_row(key: _Key, event_id: str, data: dict[str, Any]) -> dict[str, Any]:
    provider, league, slate = key
    _check_ids(f"an event of {'/'.join(key)}", {"event_id": event_id})
    return {
        "provider": provider,
        "league": league,
        "event_id": event_id,
        "kind": "event",
        "slate_date": slate,
        "data": data,
        "idem_key": f"event:{provider}:{league}:{slate}:{event_id}",
    }


def _record_row(record: OddsUpdate | Heartbeat) -> dict[str, Any]:
    ids: dict[IdField, str] = {
        "provider": record.provider,
        "league": record.league,
        "slate_date": record.slate_date,
        "event_id": record.event_id,
    }
    _check_ids("a record", ids)
    encoded = record.to_json()  # once: the row's data and its key (to_dict deep-copies)
    return {
        "provider": record.provider,
        "league": record.league,
        "event_id": record.event_id,
        "kind": "odds" if isinstance(record, OddsUpdate) else "heartbeat",
        "slate_date": record.slate_date,
        "data": orjson.loads(encoded),
        "idem_key": json_key(encoded),
    }


def _snapshot_of(payload: Any, key: _Key) -> Snapshot | str:
    """The snapshot of `key` (provider, league, date) that `payload` holds, else why not."""
    try:
        snapshot = Snapshot.from_dict(payload)  # it checks the type too
    except (ValueError, TypeError) as exc:  # SnapshotError
        return " ".join(str(exc).split()) or type(exc).__name__
    held = (snapshot.provider, snapshot.league, snapshot.slate_date)
    if held != key:
        return f"it holds {'/'.join(held)}"
    return snapshot


def _try_lock(conn: sa.Connection, key: int) -> bool:
    taken = conn.execute(sa.select(sa.func.pg_try_advisory_lock(key))).scalar_one()
    conn.commit()  # no transaction left open on a connection held for hours
    return bool(taken)


def _holder(conn: sa.Connection, key: int) -> str:
    """Who holds advisory lock `key` in this database, from pg_locks (a bigint key shows as
    classid = its high 32 bits, objid = its low 32 bits, objsubid = 1)."""
    row = conn.execute(
        sa.text(
            "SELECT l.pid, a.application_name, host(a.client_addr) AS client"
            " FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
            " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND l.classid::bigint = :high AND l.objid::bigint = :low"
        ),
        {"high": (key >> 32) & 0xFFFFFFFF, "low": key & 0xFFFFFFFF},
    ).first()
    conn.commit()
    if row is None:
        return "its holder just let go"
    parts = [f"held by {row.application_name or 'a session'}", f"backend pid {row.pid}"]
    if row.client:
        parts.append(f"client {row.client}")
    return ", ".join(parts)


def _last_price(data: Mapping[str, Any], event_id: str) -> LastPrice | None:
    """An odds row's data as a LastPrice; None for one that cannot be read (edited by hand)."""
    return LastPrice.from_odds(data, event_id)
