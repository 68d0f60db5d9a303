"""Amazon S3 (boto3): the `s3` sink, the fs layout in a bucket under a prefix.

Snapshots: <prefix>/<provider>/events/<slate>-<league>.json, PUT with If-None-Match: * (an
    existing readable snapshot is kept; one that cannot be read is copied aside to
    <key>.unreadable-<YYYYmmddTHHMMSSZ>[-n] and replaced, a WARNING names both).
Odds: S3 cannot append, so records are buffered per event and written as chunk objects
    <prefix>/<provider>/odds/<slate>-<league>-<event_id>/<first_ms>-<seq>-<writer>.jsonl
    (first_ms: epoch ms of the chunk's first received_at, 13 digits, never lower than the event's
    previous chunk in this run; seq: this sink's chunk counter, 6 digits; writer: 6 hex digits
    per sink, so two runs never share a key). Key order is write order.
Locks: <prefix>/<provider>/locks/<league>.lock, JSON {host, pid, token, at}.

A chunk is sealed when its event holds `chunk_records` records or `chunk_bytes` bytes, when its
oldest record has waited `chunk_age_s` (checked by flush), and by a final flush or close. A sealed
chunk keeps its key and bytes until its PUT succeeds, so a retry after a failure writes the same
object again (idempotent). Records are remembered by their record key (bounded), so a batch
passed again after a failure, or replayed from a fanout spill, is buffered once.

Failures are SinkErrors naming s3://bucket/key: no connection, timeouts, throttling and 5xx may
recover (permanent=False); AccessDenied, NoSuchBucket and other 4xx cannot (permanent=True).
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import logging
import os
import re
import secrets
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Final

import boto3
import orjson
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
)

from snuper.ids import IdField
from snuper.model import (
    LastPrice,
    OddsUpdate,
    RawMessage,
    Record,
    Snapshot,
    record_from_json,
)
from snuper.sinks.base import (
    LoadedSnapshots,
    SinkBusy,
    SinkConfigError,
    SinkError,
    checked_id,
    mislabelled,
)
from snuper.slate import iso_utc, parse_iso

if TYPE_CHECKING:
    from snuper.archive.stores import S3Segments
    from snuper.config import SinkSettings

log = logging.getLogger("snuper.sinks.s3")

BUCKET_FLAG: Final = "--s3-bucket"
PREFIX_FLAG: Final = "--s3-prefix"
CHUNK_RECORDS: Final = 5000
CHUNK_BYTES: Final = 4 * 1024 * 1024
CHUNK_AGE_S: Final = 10.0
LOCK_STALE_S: Final = 120.0
LOCK_REFRESH_S: Final = 30.0
REMEMBER: Final = 50_000  # record keys per generation (two are kept)
CLIENT_CONFIG: Final = Config(
    connect_timeout=3, read_timeout=10, retries={"max_attempts": 2, "mode": "standard"}
)

S3Client = Any  # a boto3 S3 client (boto3 ships no types)

_SNAPSHOT_NAME: Final = re.compile(r"([0-9]{8})-([a-z]+)\.json")
_CHUNK_NAME: Final = re.compile(r"[0-9]{13}-[0-9]{6,}(?:-[0-9a-f]+)?\.jsonl")
_CACHE_LIMIT: Final = 4096  # event entries kept before idle ones are dropped
_SAVE_TRIES: Final = 3
_MAX_PREFIX: Final = 512  # leaves room for the longest key below it within S3's 1024 bytes
# Error codes that may clear up on their own although their status is 4xx (or unset).
_TRANSIENT_CODES: Final = frozenset(
    {"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded",
     "TooManyRequestsException", "RequestTimeout", "RequestTimeTooSkewed", "ExpiredToken",
     "OperationAborted", "ConditionalRequestConflict", "InternalError", "ServiceUnavailable"}
)  # fmt: skip
_CONFIG_ERRORS: Final = (NoCredentialsError, PartialCredentialsError, ParamValidationError)


# -- settings ---------------------------------------------------------------------------------

_BUCKET_CHARS: Final = re.compile(r"[a-z0-9.-]+")
_RESERVED_PREFIXES: Final = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES: Final = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
_PREFIX_CHARS: Final = re.compile(r"[A-Za-z0-9!_.*'()/-]*")


def check_bucket(name: str) -> str:
    """`name` when it is a valid S3 bucket name, else SinkConfigError naming --s3-bucket."""
    problem = _bucket_problem(name)
    if problem is not None:
        raise SinkConfigError(BUCKET_FLAG, f"{problem}: {name!r}")
    return name


def _bucket_problem(name: str) -> str | None:
    if not 3 <= len(name) <= 63:
        return "a bucket name has 3 to 63 characters"
    if _BUCKET_CHARS.fullmatch(name) is None:
        return "a bucket name has only lowercase letters, digits, '.' and '-'"
    if not (name[0].isalnum() and name[-1].isalnum()):
        return "a bucket name starts and ends with a letter or digit"
    if ".." in name:
        return "a bucket name has no '..'"
    with contextlib.suppress(ValueError):
        ipaddress.IPv4Address(name)
        return "a bucket name is not an IP address"
    if name.startswith(_RESERVED_PREFIXES) or name.endswith(_RESERVED_SUFFIXES):
        return "a bucket name must not use a prefix or suffix AWS reserves"
    return None


def check_prefix(prefix: str) -> str:
    """The key prefix without trailing "/" ("" is the bucket root); SinkConfigError naming
    --s3-prefix for a leading "/", "..", an empty or "." segment, or characters outside
    A-Z a-z 0-9 ! _ . * ' ( ) / -."""
    problem = _prefix_problem(prefix)
    if problem is not None:
        raise SinkConfigError(PREFIX_FLAG, f"{problem}: {prefix!r}")
    return prefix.rstrip("/")


def _prefix_problem(prefix: str) -> str | None:
    if prefix.startswith("/"):
        return "a key prefix does not start with '/'"
    if _PREFIX_CHARS.fullmatch(prefix) is None:
        return "a key prefix has only A-Z a-z 0-9 ! _ . * ' ( ) / -"
    if ".." in prefix:
        return "a key prefix has no '..'"
    if len(prefix) > _MAX_PREFIX:
        return f"a key prefix has at most {_MAX_PREFIX} characters"
    stripped = prefix.rstrip("/")
    if stripped and any(part in ("", ".") for part in stripped.split("/")):
        return "a key prefix has no empty or '.' segment"
    return None


_client: tuple[tuple[str | None, ...], S3Client] | None = None
_client_lock = threading.Lock()
# What shapes a client: a new one is made only when these change (tests point them at moto).
_CLIENT_ENV: Final = (
    "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE",
    "AWS_ACCESS_KEY_ID",
)  # fmt: skip


def client() -> S3Client:
    """The process's S3 client, made once so a warm Lambda reuses it and its connections.
    Region, endpoint (AWS_ENDPOINT_URL_S3) and credentials come from the AWS environment."""
    global _client
    shape = tuple(os.environ.get(name) for name in _CLIENT_ENV)
    with _client_lock:
        if _client is None or _client[0] != shape:
            _client = (shape, boto3.session.Session().client("s3", config=CLIENT_CONFIG))
        return _client[1]


def build(settings: SinkSettings) -> S3Sink:
    """An S3Sink on settings.s3_bucket under settings.s3_prefix; SinkConfigError names the flag.
    Nothing is sent yet: a missing bucket or no permission fails the first call (permanent)."""
    if not settings.s3_bucket:
        raise SinkConfigError(BUCKET_FLAG, "the s3 sink needs a bucket name")
    bucket = check_bucket(settings.s3_bucket)
    prefix = check_prefix(settings.s3_prefix)
    return S3Sink(client(), bucket, prefix)


# -- errors and keys --------------------------------------------------------------------------


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _status(exc: ClientError) -> int | None:
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status if isinstance(status, int) else None


def _condition_failed(exc: ClientError) -> bool:
    """A conditional request's condition did not hold (412), or its object is gone (NoSuchKey;
    not any 404: NoSuchBucket is one too)."""
    return _status(exc) == 412 or _code(exc) in ("PreconditionFailed", "NoSuchKey")


def is_permanent_s3(exc: BaseException) -> bool:
    """No retry can fix it: access denied, no such bucket, bad credentials or request."""
    if isinstance(exc, ClientError):
        status = _status(exc)
        if _code(exc) in _TRANSIENT_CODES or status is None or status >= 500:
            return False
        return status not in (408, 429)
    return isinstance(exc, _CONFIG_ERRORS)


def _failure(action: str, url: str, exc: BotoCoreError | ClientError) -> SinkError:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        reason = f"{error.get('Code', 'error')}: {error.get('Message') or _status(exc)}"
    else:
        reason = str(exc) or type(exc).__name__
    return SinkError(f"cannot {action} {url}: {reason}", permanent=is_permanent_s3(exc))


def _id(field_name: IdField, value: object) -> str:
    return checked_id(field_name, value, "an S3 key")


def _base(prefix: str) -> str:
    return f"{prefix}/" if prefix else ""


def snapshot_key(prefix: str, provider: str, league: str, slate_date: str) -> str:
    provider, league = _id("provider", provider), _id("league", league)
    return f"{_base(prefix)}{provider}/events/{_id('slate_date', slate_date)}-{league}.json"


def event_folder(prefix: str, provider: str, league: str, slate_date: str, event_id: str) -> str:
    """The folder ("…/", with its slash: event 10 is not a prefix of event 101) of an event's
    chunks."""
    provider, league = _id("provider", provider), _id("league", league)
    name = f"{_id('slate_date', slate_date)}-{league}-{_id('event_id', event_id)}"
    return f"{_base(prefix)}{provider}/odds/{name}/"


def lock_key(prefix: str, provider: str, league: str) -> str:
    return f"{_base(prefix)}{_id('provider', provider)}/locks/{_id('league', league)}.lock"


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MS: Final = timedelta(milliseconds=1)


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def _epoch_ms(received_at: str) -> int:
    try:
        moment = parse_iso(received_at)
    except ValueError:  # not a time (never made by the engine): the chunk is named by now
        moment = datetime.now(UTC)
    return (moment - _EPOCH) // _MS  # exact: no float rounding down to the previous ms


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _snapshot_problem(body: bytes) -> str | None:
    """Why `body` is not a snapshot, in one line; None when it is one."""
    try:
        Snapshot.from_json(body)
    except (ValueError, TypeError) as exc:  # SnapshotError, JSONDecodeError
        cause = exc.__cause__
        if isinstance(cause, KeyError) and cause.args:
            return f"malformed snapshot: missing field '{cause.args[0]}'"
        return _one_line(str(exc)) or type(exc).__name__
    return None


# -- the bucket -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Object:
    body: bytes
    etag: str
    modified: datetime | None


@dataclass(frozen=True, slots=True)
class _Bucket:
    """The few S3 calls the sink makes, each failure a SinkError naming s3://bucket/key."""

    client: S3Client
    name: str

    def url(self, key: str) -> str:
        return f"s3://{self.name}/{key}"

    def keys(self, folder: str) -> list[str]:
        """The keys under `folder`, sorted (= written order for chunks)."""
        found: list[str] = []
        try:
            pages = self.client.get_paginator("list_objects_v2")
            for page in pages.paginate(Bucket=self.name, Prefix=folder):
                found.extend(item["Key"] for item in page.get("Contents", ()))
        except (BotoCoreError, ClientError) as exc:
            raise _failure("list", self.url(folder), exc) from exc
        return sorted(found)

    def get(self, key: str) -> _Object | None:
        """The object, or None when there is none."""
        try:
            response = self.client.get_object(Bucket=self.name, Key=key)
            body: bytes = response["Body"].read()
        except ClientError as exc:
            if _code(exc) == "NoSuchKey":
                return None
            raise _failure("read", self.url(key), exc) from exc
        except BotoCoreError as exc:
            raise _failure("read", self.url(key), exc) from exc
        return _Object(body, str(response.get("ETag", "")), response.get("LastModified"))

    def put(self, key: str, body: bytes, content_type: str, **condition: str) -> str | None:
        """PUT, under `condition` (IfNoneMatch="*" or IfMatch=etag); the new ETag, or None when
        the condition did not hold."""
        try:
            response = self.client.put_object(
                Bucket=self.name, Key=key, Body=body, ContentType=content_type, **condition
            )
        except ClientError as exc:
            if condition and _condition_failed(exc):
                return None
            raise _failure("write", self.url(key), exc) from exc
        except BotoCoreError as exc:
            raise _failure("write", self.url(key), exc) from exc
        return str(response.get("ETag", ""))

    def delete(self, key: str, etag: str) -> bool:
        """Delete `key` if it is still the object with `etag`; False if it is not (or gone)."""
        try:
            self.client.delete_object(Bucket=self.name, Key=key, IfMatch=etag)
        except ClientError as exc:
            if _condition_failed(exc):
                return False
            raise _failure("delete", self.url(key), exc) from exc
        except BotoCoreError as exc:
            raise _failure("delete", self.url(key), exc) from exc
        return True


def _records(body: bytes) -> Iterable[Record]:
    """The odds updates and heartbeats of a chunk; an unreadable line (a hand edit) is skipped."""
    for line in body.splitlines():
        try:
            record = record_from_json(line)
        except ValueError:  # SnapshotError, JSONDecodeError
            continue
        if not isinstance(record, RawMessage):
            yield record


def read_event_records(
    client: S3Client,
    bucket: str,
    prefix: str,
    provider: str,
    league: str,
    slate_date: str,
    event_id: str,
) -> list[Record]:
    """One event's stored records in the order written (`snuper read`); [] when none."""
    store = _Bucket(client, bucket)
    records: list[Record] = []
    for key in _chunk_keys(store, event_folder(prefix, provider, league, slate_date, event_id)):
        chunk = store.get(key)
        if chunk is not None:
            records.extend(_records(chunk.body))
    return records


def _chunk_keys(store: _Bucket, folder: str) -> list[str]:
    return [key for key in store.keys(folder) if _CHUNK_NAME.fullmatch(key[len(folder) :])]


def _last_price(record: Record, event_id: str) -> LastPrice | None:
    if not isinstance(record, OddsUpdate) or record.event_id != event_id:
        return None
    try:
        line = None if record.line is None else float(record.line)
        return LastPrice(
            event_id, record.market, record.side, str(record.selection_id), line,
            int(record.odds_american), float(record.odds_decimal),
        )  # fmt: skip
    except (TypeError, ValueError):  # a hand-edited line
        return None


# -- the sink ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _Open:
    """An event's buffered records (the next chunk) and the key of its previous chunk."""

    folder: str
    provider: str
    league: str
    lines: list[bytes] = field(default_factory=list)
    size: int = 0
    first_at: str = ""  # received_at of the first buffered record: names the chunk
    since: float = 0.0  # clock() when it was buffered: ages the chunk
    last_ms: int = 0  # first_ms of the previous chunk: keys never go back


@dataclass(frozen=True, slots=True)
class _Chunk:
    key: str
    body: bytes


@dataclass(slots=True)
class _Claim:
    key: str
    token: str
    etag: str


class _Seen:
    """Record keys buffered or written lately: two generations of at most `limit` each, so
    memory stays bounded and the newest `limit` keys are always remembered."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.recent: set[bytes] = set()
        self.older: set[bytes] = set()

    def take(self, digest: bytes) -> bool:
        """True the first time `digest` is seen."""
        if digest in self.recent or digest in self.older:
            return False
        self.recent.add(digest)
        if len(self.recent) >= self.limit:
            self.older, self.recent = self.recent, set()
        return True


class S3Sink:
    name: ClassVar[str] = "s3"
    thread_safe: ClassVar[bool] = True  # writes and locks hold self._lock; reads share no state
    wants_raw: ClassVar[bool] = False

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        prefix: str = "",
        *,
        clock: Callable[[], float] = time.monotonic,
        chunk_records: int = CHUNK_RECORDS,
        chunk_bytes: int = CHUNK_BYTES,
        chunk_age_s: float = CHUNK_AGE_S,
        lock_stale_s: float = LOCK_STALE_S,
        lock_refresh_s: float = LOCK_REFRESH_S,
        remember: int = REMEMBER,
    ) -> None:
        if chunk_records < 1 or chunk_bytes < 1 or remember < 1:
            raise ValueError("chunk_records, chunk_bytes and remember must be at least 1")
        self.bucket = _Bucket(client, bucket)
        self.prefix = prefix
        self.chunk_records = chunk_records
        self.chunk_bytes = chunk_bytes
        self.chunk_age_s = chunk_age_s
        self.lock_stale_s = lock_stale_s
        self.lock_refresh_s = lock_refresh_s
        self._clock = clock
        self._lock = threading.Lock()
        self._writer = secrets.token_hex(3)
        self._seq = 0
        self._events: dict[tuple[str, str, str, str], _Open] = {}
        # Events with buffered records, oldest first (inserted when their buffer starts).
        self._waiting: dict[str, _Open] = {}
        self._pending: deque[_Chunk] = deque()  # sealed, PUT in order
        self._seen = _Seen(remember)
        self._claims: dict[tuple[str, str], _Claim] = {}
        self._lost: set[tuple[str, str]] = set()  # claims another monitor took over
        self._refresh_at = 0.0

    def describe(self, snapshot: Snapshot) -> str:
        return self.bucket.url(self._snapshot_key(snapshot))

    def segment_store(self) -> S3Segments:
        """Where the raw archive keeps its segments: <prefix>/<provider>/raw/<league>/."""
        from snuper.archive.stores import S3Segments

        return S3Segments(self.bucket, self.prefix)

    def _snapshot_key(self, snapshot: Snapshot) -> str:
        return snapshot_key(self.prefix, snapshot.provider, snapshot.league, snapshot.slate_date)

    # -- snapshots ---------------------------------------------------------------------------

    def save_snapshot(self, snapshot: Snapshot, *, overwrite: bool = False) -> bool:
        key = self._snapshot_key(snapshot)
        body = snapshot.to_json()
        with self._lock:
            if overwrite:
                self.bucket.put(key, body, "application/json")
                return True
            return self._save_new(key, body)

    def _save_new(self, key: str, body: bytes) -> bool:
        """A conditional PUT; False when a readable snapshot is there. An unreadable one is
        replaced only if unchanged since read (If-Match), so a good one written meanwhile stays."""
        for _ in range(_SAVE_TRIES):
            if self.bucket.put(key, body, "application/json", IfNoneMatch="*") is not None:
                return True
            existing = self.bucket.get(key)
            if existing is None:
                continue  # deleted since: the conditional PUT again
            problem = _snapshot_problem(existing.body)
            if problem is None:
                return False
            aside = self._keep_aside(key, existing.body)
            log.warning("unreadable snapshot %s (%s) copied to %s and replaced",
                        self.bucket.url(key), problem, self.bucket.url(aside))  # fmt: skip
            if self.bucket.put(key, body, "application/json", IfMatch=existing.etag) is not None:
                return True
        raise SinkError(f"cannot write {self.bucket.url(key)}: it kept changing meanwhile")

    def _keep_aside(self, key: str, body: bytes) -> str:
        base = aside = f"{key}.unreadable-{_stamp()}"
        n = 0
        while self.bucket.put(aside, body, "application/octet-stream", IfNoneMatch="*") is None:
            n += 1
            aside = f"{base}-{n}"
        return aside

    def load_snapshots(
        self, provider: str, leagues: Sequence[str], slate: str | None = None
    ) -> LoadedSnapshots:
        """Per league, the snapshot of `slate` by its exact key, else the newest earlier one (a
        later one is never taken); without `slate`, the newest. Only keys of the layout count,
        and an object must hold what its key says."""
        folder = f"{_base(self.prefix)}{_id('provider', provider)}/events/"
        wanted = set(leagues)
        latest: dict[str, str] = {}
        for key in self.bucket.keys(folder):
            name = key[len(folder) :]
            match = _SNAPSHOT_NAME.fullmatch(name)
            if not match or match[2] not in wanted or (slate is not None and match[1] > slate):
                continue
            if name > latest.get(match[2], ""):  # names start with the date: later sorts last
                latest[match[2]] = name
        found = LoadedSnapshots()
        for league in dict.fromkeys(leagues):
            if league in latest:
                self._load_one(found, provider, league, folder + latest[league])
        return found

    def _load_one(self, found: LoadedSnapshots, provider: str, league: str, key: str) -> None:
        url = self.bucket.url(key)
        stored = self.bucket.get(key)
        if stored is None:
            found.unreadable[league] = f"cannot read snapshot {url}: deleted while listed"
            return
        try:
            snapshot = Snapshot.from_json(stored.body)
        except (ValueError, TypeError):
            problem = _snapshot_problem(stored.body)
            found.unreadable[league] = f"cannot read snapshot {url}: {problem}"
            return
        problem = mislabelled(snapshot, (provider, league, key.rsplit("/", 1)[1][:8]), url)
        if problem:
            found.unreadable[league] = problem
            return
        found.snapshots.append(snapshot)

    # -- reading odds ------------------------------------------------------------------------

    def read_event(
        self, provider: str, league: str, slate_date: str, event_id: str
    ) -> list[Record]:
        """The event's stored chunks' records in order (what is still buffered is not stored)."""
        client = self.bucket.client
        return read_event_records(
            client, self.bucket.name, self.prefix, provider, league, slate_date, event_id
        )

    def last_prices(self, snapshot: Snapshot) -> list[LastPrice]:
        """The last odds record per market and side of each snapshot event, read from the last
        chunk back until every market and side of the event is found."""
        found: list[LastPrice] = []
        for event in snapshot.events:
            wanted = {(s.market, s.side) for s in event.selections}
            folder = event_folder(self.prefix, snapshot.provider, snapshot.league,
                                  snapshot.slate_date, event.event_id)  # fmt: skip
            last: dict[tuple[str, str], LastPrice] = {}
            for key in reversed(_chunk_keys(self.bucket, folder)):
                chunk = self.bucket.get(key)
                records = [] if chunk is None else list(_records(chunk.body))
                for record in reversed(records):
                    price = _last_price(record, event.event_id)
                    if price is not None:
                        last.setdefault((price.market, price.side), price)
                if wanted <= last.keys():
                    break
            found.extend(last.values())
        return found

    # -- writing odds ------------------------------------------------------------------------

    def write_updates(self, records: Sequence[Record]) -> None:
        """Buffer the records not taken before; PUT the chunks that are sealed (full)."""
        with self._lock:
            self._buffer(records)
            if self._pending:
                try:
                    self._put_pending()
                except SinkError as exc:
                    exc.stored = len(records)  # all buffered: a later flush PUTs them
                    raise

    def _buffer(self, records: Sequence[Record]) -> None:
        # Every key is checked before anything is buffered: a bad id takes none of the batch.
        staged = [(self._open(r), r) for r in records if not isinstance(r, RawMessage)]
        if self._lost:
            self._refuse_lost(staged)
        now = self._clock()
        for event, record in staged:
            body = record.to_json()
            # The record key (model.record_key) as bytes: the same JSON is the same record.
            if not self._seen.take(hashlib.blake2b(body, digest_size=16).digest()):
                continue
            if not event.lines:
                event.first_at, event.since = record.received_at, now
                self._waiting[event.folder] = event
            event.lines.append(body + b"\n")
            event.size += len(body) + 1
            if len(event.lines) >= self.chunk_records or event.size >= self.chunk_bytes:
                self._seal(event)

    def _open(self, record: Record) -> _Open:
        # Hot path: one dict lookup per record; the key is built (and checked) once per event.
        ids = (record.provider, record.league, record.slate_date, record.event_id)
        event = self._events.get(ids)
        if event is None:
            if len(self._events) >= _CACHE_LIMIT:  # keep the ones holding records
                self._events = {k: e for k, e in self._events.items() if e.lines}
            folder = event_folder(self.prefix, *ids)
            event = self._events[ids] = _Open(folder, record.provider, record.league)
        return event

    def _refuse_lost(self, staged: Sequence[tuple[_Open, Record]]) -> None:
        for event, _ in staged:
            if (event.provider, event.league) in self._lost:
                raise SinkBusy(
                    f"{event.provider} {event.league}: another monitor took over "
                    f"{self.bucket.url(lock_key(self.prefix, event.provider, event.league))}",
                    permanent=True,
                )

    def _seal(self, event: _Open) -> None:
        """Turn the event's buffer into a chunk with a fixed key and body, queued for its PUT."""
        ms = max(_epoch_ms(event.first_at), event.last_ms)
        event.last_ms = ms
        key = f"{event.folder}{ms:013d}-{self._seq:06d}-{self._writer}.jsonl"
        self._seq += 1
        self._pending.append(_Chunk(key, b"".join(event.lines)))
        event.lines, event.size = [], 0
        self._waiting.pop(event.folder, None)

    def _put_pending(self) -> None:
        """PUT the sealed chunks in order; one that fails stays first, to be PUT again."""
        while self._pending:
            chunk = self._pending[0]
            self.bucket.put(chunk.key, chunk.body, "application/x-ndjson")
            self._pending.popleft()

    # -- durability --------------------------------------------------------------------------

    def flush(self, *, final: bool = False) -> None:
        """PUT the chunks that are due (all of them when final); refresh held locks when due.
        Cheap when nothing is due: the engine calls it many times a second."""
        with self._lock:
            self._flush(final=final)

    def _flush(self, *, final: bool) -> None:
        now = self._clock()
        for event in self._due(now, final=final):
            self._seal(event)
        if self._pending:
            self._put_pending()
        if self._claims and now >= self._refresh_at:
            self._refresh_claims(now)

    def _due(self, now: float, *, final: bool) -> list[_Open]:
        if final:
            return list(self._waiting.values())
        due = []
        for event in self._waiting.values():  # oldest first: stop at the first that is young
            if now - event.since < self.chunk_age_s:
                break
            due.append(event)
        return due

    def close(self) -> None:
        """Final flush, then release the locks held (even when the flush failed)."""
        with self._lock:
            failure: SinkError | None = None
            try:
                self._flush(final=True)
            except SinkError as exc:
                failure = exc
            self._release_claims()
        if failure is not None:
            raise failure

    # -- locks -------------------------------------------------------------------------------

    def claim(self, provider: str, league: str) -> None:
        """Hold <prefix>/<provider>/locks/<league>.lock: created with If-None-Match: *, taken
        over when its holder has not refreshed it for `lock_stale_s` (a monitor that died),
        refreshed by flush, deleted by close. SinkBusy names a live holder."""
        key = lock_key(self.prefix, provider, league)
        with self._lock:
            if (provider, league) in self._claims:
                return
            token = secrets.token_hex(8)
            etag = self.bucket.put(key, self._lock_body(token), "application/json",
                                   IfNoneMatch="*")  # fmt: skip
            if etag is None:
                etag = self._take_over(key, token, provider, league)
            if not self._claims:
                self._refresh_at = self._clock() + self.lock_refresh_s
            self._claims[(provider, league)] = _Claim(key, token, etag)
            self._lost.discard((provider, league))

    @staticmethod
    def _lock_body(token: str) -> bytes:
        at = iso_utc(datetime.now(UTC))
        holder = {"host": socket.gethostname(), "pid": os.getpid(), "token": token, "at": at}
        return orjson.dumps(holder)

    def _take_over(self, key: str, token: str, provider: str, league: str) -> str:
        """The new lock's ETag when the lock at `key` is stale (or gone), else SinkBusy."""
        held = self.bucket.get(key)
        if held is not None and self._lock_age(held) >= self.lock_stale_s:
            log.warning("taking over the stale lock %s (%s)", self.bucket.url(key),
                        _holder(held.body))  # fmt: skip
            self.bucket.delete(key, held.etag)  # only that stale object, never a new holder's
            held = None
        if held is None:
            body = self._lock_body(token)
            etag = self.bucket.put(key, body, "application/json", IfNoneMatch="*")
            if etag is not None:
                return etag
            held = self.bucket.get(key)  # another monitor was quicker
        where = self.bucket.url(_base(self.prefix).rstrip("/"))
        raise SinkBusy(
            f"{provider} {league} is already monitored into {where} "
            f"({_holder(held.body if held else b'')} holds {self.bucket.url(key)})"
        )

    @staticmethod
    def _lock_age(held: _Object) -> float:
        """Seconds since the holder last wrote its lock: its `at`, else the object's time."""
        try:
            at: datetime | None = parse_iso(orjson.loads(held.body)["at"])
        except (ValueError, TypeError, KeyError, AttributeError):  # not a lock of ours
            at = held.modified
        return float("inf") if at is None else time.time() - at.timestamp()

    def _refresh_claims(self, now: float) -> None:
        """Rewrite each held lock with a new `at`, only if it is still ours (If-Match)."""
        self._refresh_at = now + self.lock_refresh_s
        for (provider, league), held in list(self._claims.items()):
            body = self._lock_body(held.token)
            etag = self.bucket.put(held.key, body, "application/json", IfMatch=held.etag)
            if etag is None:  # replaced, or deleted: re-create it only if it is really gone
                etag = self.bucket.put(held.key, body, "application/json", IfNoneMatch="*")
            if etag is None:
                self._lose(provider, league, held)
            else:
                held.etag = etag

    def _lose(self, provider: str, league: str, held: _Claim) -> None:
        """Another monitor took the lock over (ours looked stale): this league's writes stop
        (write_updates raises SinkBusy) so no record is written by both."""
        del self._claims[(provider, league)]
        self._lost.add((provider, league))
        other = self.bucket.get(held.key)
        log.error("%s %s: lost the lock %s to %s", provider, league,
                  self.bucket.url(held.key), _holder(other.body if other else b""))  # fmt: skip

    def _release_claims(self) -> None:
        for held in self._claims.values():
            try:
                self.bucket.delete(held.key, held.etag)
            except SinkError as exc:  # it goes stale by itself; the data is what matters
                log.warning("lock not released (stale in %gs): %s", self.lock_stale_s, exc)
        self._claims.clear()


def _holder(body: bytes) -> str:
    """'host H pid P (since AT)' from a lock's body, for a SinkBusy message."""
    try:
        data = orjson.loads(body)
        return f"host {data['host']} pid {data['pid']} (since {data['at']})"
    except (ValueError, TypeError, KeyError):
        return "an unknown holder"
