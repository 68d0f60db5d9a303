"""The rds sink against a real PostgreSQL: a database of its own per test (tests/services.py)."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import traceback
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import JSONB

from snuper.config import SinkSettings
from snuper.model import Heartbeat, OddsUpdate, Price, RawMessage, Record, Snapshot
from snuper.sinks import rds
from snuper.sinks.base import SinkBusy, SinkConfigError, SinkError
from snuper.sinks.rds import (
    RdsSink,
    build,
    check_table,
    engine_for,
    is_transient,
    make_engine,
    normalise_uri,
    redacted,
)
from tests.factories import START, event, snapshot

TABLE = "snuper_events"
SLATE = "20261201"  # START's slate
UNREACHABLE = "postgresql://snuper:secret@127.0.0.1:1/snuper"  # nothing listens on port 1


def odds(
    n: int,
    event_id: str = "101",
    market: str = "moneyline",
    side: str = "home",
    slate: str = SLATE,
) -> OddsUpdate:
    """The n-th price of one side: odds -100 - n, received n ms after START."""
    return OddsUpdate(
        provider="draftkings",
        league="nba",
        event_id=event_id,
        slate_date=slate,
        selection_id=f"0ML500_{side}",
        market=market,  # type: ignore[arg-type]
        side=side,  # type: ignore[arg-type]
        line=None if market == "moneyline" else -3.5,
        odds_american=-100 - n,
        odds_decimal=round(1 + 100 / (100 + n), 4),
        previous=Price(None, -100 - n + 1, 1.99) if n else None,
        source_ts=None,
        received_at=(START + timedelta(milliseconds=n)).isoformat(),
    )


def heartbeat(n: int, event_id: str = "101") -> Heartbeat:
    return Heartbeat(
        provider="draftkings",
        league="nba",
        event_id=event_id,
        slate_date=SLATE,
        received_at=(START + timedelta(seconds=60 * n)).isoformat(),
        messages=n,
        updates=n,
        bytes=100 * n,
        idle_s=60.5,
    )


def snapshot_on(day: int, *event_ids: str) -> Snapshot:
    """A snapshot of the slate `day` days after SLATE, with events of that slate."""
    start = START + timedelta(days=day)
    return snapshot(*(event(eid, start=start) for eid in event_ids or ("101",)))


@pytest.fixture
def engine(pg_uri: str) -> Iterator[sa.Engine]:
    engine = make_engine(pg_uri)
    try:
        yield engine
    finally:
        engine.dispose()  # before pg_uri drops the database


@pytest.fixture
def sink(engine: sa.Engine) -> Iterator[RdsSink]:
    sink = RdsSink(engine, TABLE)
    try:
        yield sink
    finally:
        sink.close()


def scalar(engine: sa.Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).scalar_one()


def count(engine: sa.Engine, kind: str | None = None, table: str = TABLE) -> int:
    where = "" if kind is None else " WHERE kind = :kind"
    return int(scalar(engine, f"SELECT count(*) FROM {table}{where}", kind=kind))


# -- tables ---------------------------------------------------------------------------------------


def test_first_use_makes_tables_columns_and_indexes(sink: RdsSink, engine: sa.Engine) -> None:
    assert not sa.inspect(engine).has_table(TABLE)  # building the sink made nothing
    sink.write_updates([odds(1)])
    inspector = sa.inspect(engine)
    columns = {c["name"]: c for c in inspector.get_columns(TABLE)}
    assert list(columns) == [
        "id", "provider", "league", "event_id", "kind", "slate_date", "data", "created_at",
        "idem_key",
    ]  # fmt: skip
    assert isinstance(columns["id"]["type"], sa.BigInteger)
    assert "nextval" in str(columns["id"]["default"])  # BIGSERIAL
    assert isinstance(columns["data"]["type"], JSONB)
    assert columns["created_at"]["type"].timezone  # type: ignore[attr-defined]
    assert "now()" in str(columns["created_at"]["default"])
    assert not columns["idem_key"]["nullable"]
    assert inspector.get_pk_constraint(TABLE)["constrained_columns"] == ["id"]
    indexes = inspector.get_indexes(TABLE)
    leading = {index["column_names"][0] for index in indexes}
    assert {"provider", "league", "event_id", "created_at"} <= leading
    unique = [u["column_names"] for u in inspector.get_unique_constraints(TABLE)]
    assert unique == [["idem_key"]]

    snapshots = f"{TABLE}_snapshots"
    columns = {c["name"]: c for c in inspector.get_columns(snapshots)}
    assert list(columns) == ["provider", "league", "snapshot_date", "payload", "received_at"]
    assert isinstance(columns["payload"]["type"], JSONB)
    assert columns["received_at"]["type"].timezone  # type: ignore[attr-defined]
    unique = [u["column_names"] for u in inspector.get_unique_constraints(snapshots)]
    assert unique == [["provider", "league", "snapshot_date"]]
    assert ["provider", "league", "snapshot_date"] in [
        i["column_names"] for i in inspector.get_indexes(snapshots)
    ]


def test_sinks_starting_together_make_the_tables_once(engine: sa.Engine) -> None:
    sinks = [RdsSink(engine, TABLE) for _ in range(6)]
    start = threading.Barrier(len(sinks))
    failures: list[BaseException] = []

    def first_write(sink: RdsSink, n: int) -> None:
        start.wait()
        try:
            sink.write_updates([odds(n)])
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=first_write, args=(s, n)) for n, s in enumerate(sinks)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert count(engine) == len(sinks)


def test_long_table_names_get_distinct_index_names(engine: sa.Engine) -> None:
    table = "t" * 53  # the longest allowed: <table>_snapshots is 63 characters
    sink = RdsSink(engine, table)
    sink.save_snapshot(snapshot())
    sink.write_updates([odds(1)])
    names = [i["name"] or "" for i in sa.inspect(engine).get_indexes(table)]
    assert len(set(names)) == 6  # five and the idem_key constraint's
    assert all(len(name) <= 63 for name in names)
    assert any(name.endswith("_created_at_idx") for name in names)


def test_a_dropped_table_is_made_again_on_the_next_call(sink: RdsSink, engine: sa.Engine) -> None:
    sink.write_updates([odds(1)])
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP TABLE {TABLE}"))
    with pytest.raises(SinkError) as caught:
        sink.write_updates([odds(2)])
    assert not caught.value.permanent
    sink.write_updates([odds(2)])
    assert count(engine) == 1


# -- writes ---------------------------------------------------------------------------------------


def test_a_batch_passed_again_adds_no_rows(sink: RdsSink, engine: sa.Engine) -> None:
    batch: list[Record] = [odds(1), heartbeat(1), odds(2, side="away")]
    sink.write_updates(batch)
    sink.write_updates(batch)
    sink.write_updates([replace(r) for r in batch])  # equal records (a spill replay)
    assert count(engine) == 3
    assert count(engine, "odds") == 2 and count(engine, "heartbeat") == 1


def test_rows_hold_the_records_in_write_order(sink: RdsSink, engine: sa.Engine) -> None:
    sink.write_updates([odds(5), heartbeat(1)])
    sink.write_updates([odds(3)])  # an earlier received_at, written later
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f"SELECT * FROM {TABLE} ORDER BY id")).mappings().all()
    assert [row["data"]["received_at"] for row in rows] == [
        odds(5).received_at, heartbeat(1).received_at, odds(3).received_at
    ]  # fmt: skip
    first = rows[0]
    assert (first["provider"], first["league"], first["event_id"]) == ("draftkings", "nba", "101")
    assert (first["kind"], first["slate_date"]) == ("odds", SLATE)
    assert first["data"] == odds(5).to_dict()
    assert len({row["idem_key"] for row in rows}) == 3


def test_a_batch_is_one_insert_not_one_per_record(sink: RdsSink, engine: sa.Engine) -> None:
    sink.write_updates([odds(0)])  # the tables exist: only the batch's statements count below
    inserts: list[bool] = []

    def seen(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("INSERT"):
            inserts.append(many)

    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        sink.write_updates([odds(n) for n in range(1, 301)])
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)
    assert inserts == [True]  # one executemany (psycopg pipelines it)
    assert count(engine) == 301


def test_flush_is_not_needed_for_durability(sink: RdsSink, engine: sa.Engine) -> None:
    sink.write_updates([odds(1)])
    assert count(engine) == 1  # another connection sees it: committed before returning
    sink.flush()
    sink.flush(final=True)
    assert count(engine) == 1


def test_raw_messages_are_ignored(sink: RdsSink, engine: sa.Engine) -> None:
    raw = RawMessage("draftkings", "nba", "101", SLATE, START.isoformat(), {"a": 1})
    sink.write_updates([raw])
    sink.write_updates([raw, odds(1)])
    assert count(engine) == 1


def test_a_bad_id_is_refused_for_good_and_nothing_stored(sink: RdsSink, engine: sa.Engine) -> None:
    with pytest.raises(SinkError, match=r"event_id") as caught:
        sink.write_updates([odds(1), odds(2, event_id="../etc")])
    assert caught.value.permanent
    sink.write_updates([odds(3)])
    assert count(engine) == 1


def test_data_postgresql_cannot_hold_is_permanent(sink: RdsSink, engine: sa.Engine) -> None:
    bad = replace(odds(2), source_ts="\x00")  # JSONB cannot hold \u0000
    with pytest.raises(SinkError) as caught:
        sink.write_updates([odds(1), bad])
    assert caught.value.permanent
    assert TABLE in str(caught.value)
    assert count(engine) == 0  # one transaction: none of the batch


# -- snapshots ------------------------------------------------------------------------------------


def event_ids(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        query = f"SELECT event_id FROM {TABLE} WHERE kind = 'event' ORDER BY event_id"
        return list(conn.execute(sa.text(query)).scalars())


def stored_payload(engine: sa.Engine) -> Any:
    return scalar(engine, f"SELECT payload FROM {TABLE}_snapshots")


def test_save_snapshot_keeps_or_overwrites(sink: RdsSink, engine: sa.Engine) -> None:
    first = snapshot_on(0, "101", "102", "103")
    assert sink.save_snapshot(first)
    assert event_ids(engine) == ["101", "102", "103"]
    assert scalar(engine, f"SELECT data FROM {TABLE} WHERE event_id = '102'") == (
        first.events[1].to_dict()
    )

    second = snapshot_on(0, "101", "104")
    assert not sink.save_snapshot(second)  # kept: nothing written
    assert stored_payload(engine) == first.to_dict()
    assert event_ids(engine) == ["101", "102", "103"]

    assert sink.save_snapshot(second, overwrite=True)
    assert stored_payload(engine) == second.to_dict()
    assert event_ids(engine) == ["101", "104"]  # the slate's events are the snapshot's
    assert sink.save_snapshot(second, overwrite=True)
    assert event_ids(engine) == ["101", "104"]
    assert count(engine, table=f"{TABLE}_snapshots") == 1


def test_snapshots_of_other_slates_and_leagues_are_separate(
    sink: RdsSink, engine: sa.Engine
) -> None:
    assert sink.save_snapshot(snapshot_on(0, "101"))
    assert sink.save_snapshot(snapshot_on(1, "101"))
    assert sink.save_snapshot(Snapshot("draftkings", "nfl", SLATE, START, ()))
    assert count(engine, table=f"{TABLE}_snapshots") == 3
    assert count(engine, "event") == 2


def test_an_unreadable_snapshot_is_replaced(
    sink: RdsSink, engine: sa.Engine, caplog: pytest.LogCaptureFixture
) -> None:
    sink.save_snapshot(snapshot_on(0))
    with engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE {TABLE}_snapshots SET payload = '{{\"schema\": 99}}'"))
    with caplog.at_level(logging.WARNING, "snuper.sinks.rds"):
        assert sink.save_snapshot(snapshot_on(0))
    assert stored_payload(engine) == snapshot_on(0).to_dict()
    assert "unreadable snapshot draftkings/nba/20261201" in caplog.text
    assert "schema" in caplog.text


def test_load_snapshots_takes_the_slate_else_the_newest_earlier(sink: RdsSink) -> None:
    for day in (-3, 0, 4):
        sink.save_snapshot(snapshot_on(day))
    sink.save_snapshot(Snapshot("draftkings", "nfl", "20261130", START, ()))

    def slates(slate: str | None, leagues: tuple[str, ...] = ("nba",)) -> list[str]:
        loaded = sink.load_snapshots("draftkings", leagues, slate)
        assert loaded.unreadable == {}
        return [f"{s.league}:{s.slate_date}" for s in loaded.snapshots]

    assert slates("20261201") == ["nba:20261201"]
    assert slates("20261203") == ["nba:20261201"]
    assert slates("20261128") == ["nba:20261128"]
    assert slates("20261127") == []  # never a later one
    assert slates(None) == ["nba:20261205"]
    assert slates("20261201", ("nfl", "nba", "mlb")) == ["nfl:20261130", "nba:20261201"]
    assert sink.load_snapshots("fanduel", ["nba"], None).snapshots == []
    loaded = sink.load_snapshots("draftkings", ["nba"], "20261201").snapshots
    assert loaded == [snapshot_on(0)]


def test_load_snapshots_reports_an_unreadable_one(sink: RdsSink, engine: sa.Engine) -> None:
    sink.save_snapshot(snapshot_on(-1))
    sink.save_snapshot(snapshot_on(0))
    sink.save_snapshot(Snapshot("draftkings", "nfl", SLATE, START, ()))
    with engine.begin() as conn:
        conn.execute(
            sa.text(f"UPDATE {TABLE}_snapshots SET payload = :p WHERE snapshot_date = :d"),
            {"p": '{"schema": 1, "provider": "draftkings"}', "d": SLATE},
        )
        conn.execute(
            sa.text(f"UPDATE {TABLE}_snapshots SET payload = :p WHERE league = 'nfl'"),
            {"p": Snapshot("draftkings", "mlb", SLATE, START, ()).to_json().decode()},
        )
    loaded = sink.load_snapshots("draftkings", ["nba", "nfl"], SLATE)
    assert loaded.snapshots == []  # the newest is unreadable: no silent fallback
    nba, nfl = loaded.unreadable["nba"], loaded.unreadable["nfl"]
    assert "draftkings/nba/20261201" in nba and "missing field 'league'" in nba
    assert "it holds draftkings/mlb/20261201" in nfl
    assert all("\n" not in line and TABLE in line for line in (nba, nfl))


# -- reads ----------------------------------------------------------------------------------------


def test_last_prices_are_the_last_odds_per_event_market_and_side(sink: RdsSink) -> None:
    snap = snapshot_on(0, "101", "102")
    sink.save_snapshot(snap)
    assert sink.last_prices(snap) == []
    sink.write_updates([odds(1), odds(2, side="away"), odds(3), heartbeat(1)])
    sink.write_updates([odds(4, market="spread"), odds(5, "102"), odds(2)])  # 2 after 3: last
    sink.write_updates([odds(9, "999"), odds(9, slate="20261202")])  # not the snapshot's
    found = {(p.event_id, p.market, p.side): p for p in sink.last_prices(snap)}
    assert set(found) == {
        ("101", "moneyline", "home"), ("101", "moneyline", "away"), ("101", "spread", "home"),
        ("102", "moneyline", "home"),
    }  # fmt: skip
    last = found[("101", "moneyline", "home")]
    assert (last.odds_american, last.odds_decimal, last.line) == (-102, odds(2).odds_decimal, None)
    assert last.selection_id == "0ML500_home"
    assert found[("101", "spread", "home")].line == -3.5


def test_read_event_returns_its_records_in_write_order(sink: RdsSink) -> None:
    sink.save_snapshot(snapshot_on(0, "101", "102"))
    written: list[Record] = [odds(3), heartbeat(1), odds(1, side="away")]
    sink.write_updates([*written[:2], odds(7, "102")])
    sink.write_updates(written[2:])
    assert sink.read_event("draftkings", "nba", SLATE, "101") == written
    assert sink.read_event("draftkings", "nba", SLATE, "102") == [odds(7, "102")]
    assert sink.read_event("draftkings", "nba", "20261202", "101") == []
    assert sink.read_event("draftkings", "nba", SLATE, "103") == []


# -- claims ---------------------------------------------------------------------------------------


def test_a_claim_is_held_until_close(engine: sa.Engine) -> None:
    first, second = RdsSink(engine, TABLE), RdsSink(engine, TABLE)
    try:
        first.claim("draftkings", "nba")
        first.claim("draftkings", "nba")  # already ours
        with pytest.raises(SinkBusy) as caught:
            second.claim("draftkings", "nba")
        message = str(caught.value)
        assert "draftkings nba" in message and "backend pid" in message and "snuper[" in message
        second.claim("draftkings", "nfl")  # another league is free
        first.close()
        second.claim("draftkings", "nba")
        with pytest.raises(SinkBusy):
            first.claim("draftkings", "nfl")
    finally:
        first.close()
        second.close()
    with engine.connect() as conn:
        held = conn.execute(sa.text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"))
        assert held.scalar_one() == 0


def _kill_claim_sessions(engine: sa.Engine) -> None:
    """What a server restart does to the session holding the advisory locks."""
    with engine.connect() as conn:
        conn.execute(sa.text(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'"
        ))  # fmt: skip


def _advisory_locks(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        query = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
        return int(conn.execute(sa.text(query)).scalar_one())


def test_a_claim_lost_with_its_session_is_taken_again_by_a_flush(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink, other = RdsSink(engine, TABLE), RdsSink(engine, TABLE)
    try:
        sink.claim("draftkings", "nba")
        _kill_claim_sessions(engine)
        assert _advisory_locks(engine) == 0
        monkeypatch.setattr(rds, "CLAIM_CHECK_S", 0.0)  # check on this flush
        sink.flush()
        assert _advisory_locks(engine) == 1
        with pytest.raises(SinkBusy):  # and it holds it again
            other.claim("draftkings", "nba")
    finally:
        sink.close()
        other.close()


def test_a_claim_another_monitor_took_meanwhile_stops_the_writes(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink, other = RdsSink(engine, TABLE), RdsSink(engine, TABLE)
    try:
        sink.claim("draftkings", "nba")
        _kill_claim_sessions(engine)
        other.claim("draftkings", "nba")
        monkeypatch.setattr(rds, "CLAIM_CHECK_S", 0.0)
        with pytest.raises(SinkError) as caught:
            sink.flush()
        assert caught.value.permanent and "another monitor holds it" in str(caught.value)
    finally:
        sink.close()
        other.close()


def test_claims_are_per_table(engine: sa.Engine) -> None:
    first, second = RdsSink(engine, TABLE), RdsSink(engine, "other_events")
    try:
        first.claim("draftkings", "nba")
        second.claim("draftkings", "nba")
    finally:
        first.close()
        second.close()


# -- settings -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "flag"),
    [
        (SinkSettings(), "--rds-uri"),
        (SinkSettings(rds_uri=""), "--rds-uri"),
        (SinkSettings(rds_uri="mysql://u:secret@h/db"), "--rds-uri"),
        (SinkSettings(rds_uri="postgresql+psycopg2://u:secret@h/db"), "--rds-uri"),
        (SinkSettings(rds_uri="postgresql://u:secret@h:port/db"), "--rds-uri"),
        (SinkSettings(rds_uri=UNREACHABLE, rds_table="bad-name"), "--rds-table"),
        (SinkSettings(rds_uri=UNREACHABLE, rds_table="1st"), "--rds-table"),
        (SinkSettings(rds_uri=UNREACHABLE, rds_table="select"), "--rds-table"),
        (SinkSettings(rds_uri=UNREACHABLE, rds_table="t" * 54), "--rds-table"),
        (SinkSettings(rds_uri=UNREACHABLE, rds_table="x; DROP TABLE y"), "--rds-table"),
    ],
)
def test_bad_settings_name_the_flag(settings: SinkSettings, flag: str) -> None:
    with pytest.raises(SinkConfigError) as caught:
        build(settings)
    assert caught.value.flag == flag
    assert "secret" not in str(caught.value)


def test_uris_and_table_names() -> None:
    assert normalise_uri("postgres://u:p@h:5432/db") == "postgresql+psycopg://u:p@h:5432/db"
    assert normalise_uri(" postgresql://h/db ") == "postgresql+psycopg://h/db"
    assert normalise_uri("postgresql+psycopg://h/db") == "postgresql+psycopg://h/db"
    assert redacted("postgresql://u:p%40ss@h/db") == "postgresql://u:***@h/db"
    assert redacted("postgresql://u@h/db?password=pw&sslmode=require") == (
        "postgresql://u@h/db?password=***&sslmode=require"
    )
    assert redacted("not a uri ://u:pw@h") == "not a uri ://u:***@h"
    assert check_table("Snuper_Events2") == "snuper_events2"  # as PostgreSQL folds it
    assert check_table("_t") == "_t"


def test_one_engine_per_uri() -> None:
    engine = engine_for("postgres://u:pw@127.0.0.1:1/db")
    try:
        assert engine_for("postgresql://u:pw@127.0.0.1:1/db") is engine
        assert engine_for("postgresql://u:pw@127.0.0.1:1/other") is not engine
        assert engine.url.drivername == "postgresql+psycopg"
        assert build(SinkSettings(rds_uri="postgresql://u:pw@127.0.0.1:1/db"))._engine is engine
    finally:
        engine.dispose()


# -- outages --------------------------------------------------------------------------------------


def test_password_is_redacted_in_describe(pg_uri: str) -> None:
    uri = pg_uri.replace("postgres@", "postgres:secret@")  # trust auth: any password works
    engine = make_engine(uri)
    try:
        sink = RdsSink(engine, TABLE)
        assert sink.save_snapshot(snapshot())
        where = sink.describe(snapshot())
        assert "secret" not in where
        assert where.endswith(f":***@127.0.0.1:5432/{engine.url.database} table {TABLE}"
                              "_snapshots (draftkings/nba/20261201)")  # fmt: skip
        with pytest.raises(SinkError) as caught:
            sink.write_updates([replace(odds(1), source_ts="\x00")])
        assert "secret" not in str(caught.value) and "***" in str(caught.value)
    finally:
        engine.dispose()


def test_unreachable_server_is_a_retryable_error_without_the_password() -> None:
    sink = build(SinkSettings(rds_uri=UNREACHABLE))  # does not connect
    calls: list[Callable[[], object]] = [
        lambda: sink.write_updates([odds(1)]),
        lambda: sink.save_snapshot(snapshot()),
        lambda: sink.load_snapshots("draftkings", ["nba"]),
        lambda: sink.last_prices(snapshot()),
        lambda: sink.read_event("draftkings", "nba", SLATE, "101"),
        lambda: sink.claim("draftkings", "nba"),
    ]
    for call in calls:
        with pytest.raises(SinkError) as caught:
            call()
        assert not caught.value.permanent
        message = str(caught.value)
        assert "postgresql+psycopg://snuper:***@127.0.0.1:1/snuper table snuper_events" in message
        assert "secret" not in "".join(traceback.format_exception(caught.value))
    sink.flush(final=True)
    sink.close()


class Proxy:
    """A TCP proxy to the PostgreSQL under test that can be taken down (every connection cut,
    the port refusing) and brought back on the same port: an outage without stopping it."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self._sockets: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._sockets = self._sockets, []
        for sock in [s for s in (listener,) if s] + sockets:
            _cut(sock)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # stopped
                return
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        _cut(source)
        _cut(sink)


def _cut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def test_after_an_outage_the_same_sink_works_again(pg_uri: str, engine: sa.Engine) -> None:
    proxy = Proxy(("127.0.0.1", 5432))
    proxy.start()
    through = make_engine(pg_uri.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}"))
    sink = RdsSink(through, TABLE)
    try:
        sink.write_updates([odds(1)])
        sink.claim("draftkings", "nba")
        proxy.stop()
        for n in (2, 3):  # a pooled connection cut, then a refused connect
            with pytest.raises(SinkError) as caught:
                sink.write_updates([odds(n)])
            assert not caught.value.permanent
            assert f"127.0.0.1:{proxy.port}" in str(caught.value)
        proxy.start()
        sink.write_updates([odds(2), odds(3)])
        assert [r.received_at for r in sink.read_event("draftkings", "nba", SLATE, "101")] == [
            odds(n).received_at for n in (1, 2, 3)
        ]
    finally:
        sink.close()
        proxy.stop()
        through.dispose()
    assert count(engine) == 3


def test_connections_the_server_dropped_are_replaced(sink: RdsSink, engine: sa.Engine) -> None:
    sink.write_updates([odds(1)])
    sink.claim("draftkings", "nba")
    with engine.connect() as conn:  # a server restart, as far as the pooled connections know
        conn.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    sink.write_updates([odds(2)])  # no error: the pool pings before it hands one out
    assert sink.read_event("draftkings", "nba", SLATE, "101") == [odds(1), odds(2)]
    sink.claim("draftkings", "nfl")  # the lost claim session is replaced too


def test_errors_are_sorted_into_transient_and_permanent() -> None:
    def wrapped(error: Exception, kind: type[sa_exc.DBAPIError]) -> sa_exc.DBAPIError:
        return kind("INSERT", {}, error)

    assert is_transient(wrapped(psycopg.OperationalError("gone"), sa_exc.OperationalError))
    assert is_transient(wrapped(psycopg.errors.AdminShutdown(), sa_exc.OperationalError))
    assert is_transient(wrapped(psycopg.errors.ReadOnlySqlTransaction(), sa_exc.InternalError))
    assert is_transient(sa_exc.TimeoutError("pool"))
    invalidated = sa_exc.DBAPIError("SELECT 1", {}, Exception("x"), connection_invalidated=True)
    assert is_transient(invalidated)
    assert not is_transient(wrapped(psycopg.errors.UniqueViolation(), sa_exc.IntegrityError))
    assert not is_transient(wrapped(psycopg.errors.CheckViolation(), sa_exc.IntegrityError))
    assert not is_transient(wrapped(psycopg.errors.InvalidTextRepresentation(), sa_exc.DataError))
    assert not is_transient(
        wrapped(psycopg.errors.InsufficientPrivilege(), sa_exc.ProgrammingError)
    )
