"""The cache sink against a real Redis (a db of its own per test, see tests/services.py)."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta

import orjson
import pytest
import redis

from snuper.config import SinkSettings
from snuper.model import (
    Heartbeat,
    OddsUpdate,
    Price,
    RawMessage,
    Record,
    Side,
    Snapshot,
    record_from_json,
)
from snuper.sinks import cache
from snuper.sinks.base import SinkBusy, SinkConfigError, SinkError, build_sink
from snuper.sinks.cache import CacheSink, build, check_uri, redacted
from tests.factories import START, event, snapshot
from tests.services import REDIS_HOST, REDIS_PORT

MARKER = b"snuper:test:owner"  # the fixture's claim on the db, not ours
TTL = 600
SLATE = "20261201"


@pytest.fixture
def client(redis_uri: str) -> Iterator[redis.Redis]:
    """A client of our own to look at what the sink stored."""
    conn = redis.Redis.from_url(redis_uri)
    try:
        yield conn
    finally:
        conn.close()


@pytest.fixture
def sink(redis_uri: str) -> Iterator[CacheSink]:
    made = build(SinkSettings(cache_uri=redis_uri, cache_ttl=TTL, cache_max_items=5))
    try:
        yield made
    finally:
        made.close()


def odds(n: int, event_id: str = "101", *, side: Side = "home", american: int = -150) -> OddsUpdate:
    """A moneyline change; `n` makes received_at (so the record) unique."""
    return OddsUpdate(
        "draftkings", "nba", event_id, SLATE, f"0ML500_{n}", "moneyline",
        side, None, american, 1 + 100 / abs(american), Price(None, -140, 1.7143), None,
        f"2026-12-02T00:30:00.{n:06d}Z",
    )  # fmt: skip


def heartbeat(n: int, event_id: str = "101") -> Heartbeat:
    return Heartbeat(
        "draftkings", "nba", event_id, SLATE, f"2026-12-02T00:31:00.{n:06d}Z", 14, 0, 5210, 60.0
    )


def raw(n: int, event_id: str = "101") -> RawMessage:
    payload = {"seq": n, "quotes": [{"id": "0ML500_1", "price": "-160"}]}
    return RawMessage(
        "draftkings", "nba", event_id, SLATE, f"2026-12-02T00:30:00.{n:06d}Z", payload
    )


def _bytes(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


def stored(client: redis.Redis, key: str) -> list[bytes]:
    return [_bytes(entry) for entry in client.lrange(key, 0, -1)]


def value(client: redis.Redis, key: str) -> bytes:
    found = client.get(key)
    assert found is not None, key
    return _bytes(found)


def our_keys(client: redis.Redis) -> set[str]:
    return {_bytes(key).decode() for key in client.keys("*") if key != MARKER}


def ttl_of(client: redis.Redis, key: str) -> int:
    return int(client.ttl(key))


# -- keys, TTL, trimming -------------------------------------------------------------------------


def test_a_batch_goes_to_the_event_lists_by_name(sink: CacheSink, client: redis.Redis) -> None:
    batch: list[Record] = [raw(1), odds(1), odds(2), raw(3, "102"), odds(3, "102"), heartbeat(4)]
    sink.write_updates(batch)
    assert stored(client, "snuper:nba:101:selection") == [
        odds(1).to_json(), odds(2).to_json(), heartbeat(4).to_json(),
    ]  # fmt: skip
    assert stored(client, "snuper:nba:101:raw") == [raw(1).to_json()]
    assert stored(client, "snuper:nba:102:selection") == [odds(3, "102").to_json()]
    assert stored(client, "snuper:nba:102:raw") == [raw(3, "102").to_json()]
    marker = cache.batch_key(batch)
    assert marker.startswith("snuper:batch:")
    assert our_keys(client) == {
        "snuper:nba:101:selection", "snuper:nba:101:raw", "snuper:nba:102:selection",
        "snuper:nba:102:raw", marker,
    }  # fmt: skip
    for key in our_keys(client):
        assert 0 < ttl_of(client, key) <= TTL, key


def test_a_later_write_refreshes_the_ttl(sink: CacheSink, client: redis.Redis) -> None:
    sink.write_updates([raw(1), odds(1)])
    for key in ("snuper:nba:101:selection", "snuper:nba:101:raw"):
        client.expire(key, 5)  # as if most of the TTL had passed
    sink.write_updates([raw(2), odds(2)])
    for key in ("snuper:nba:101:selection", "snuper:nba:101:raw"):
        assert TTL - 5 <= ttl_of(client, key) <= TTL, key


def test_lists_keep_the_newest_max_items(sink: CacheSink, client: redis.Redis) -> None:
    sink.write_updates([odds(n) for n in range(8)])  # more than the 5 kept, in one batch
    sink.write_updates([odds(n) for n in range(8, 11)])
    assert stored(client, "snuper:nba:101:selection") == [odds(n).to_json() for n in range(6, 11)]
    sink.write_updates([raw(n) for n in range(7)])
    assert stored(client, "snuper:nba:101:raw") == [raw(n).to_json() for n in range(2, 7)]


def test_a_batch_passed_again_adds_nothing(sink: CacheSink, client: redis.Redis) -> None:
    batch: list[Record] = [raw(1), odds(1), heartbeat(2)]
    sink.write_updates(batch)
    sink.write_updates(batch)  # the same object, as after a failed call
    replayed = [record_from_json(record.to_json()) for record in batch]  # a spill file
    assert replayed is not batch
    sink.write_updates(replayed)
    assert len(stored(client, "snuper:nba:101:selection")) == 2
    assert len(stored(client, "snuper:nba:101:raw")) == 1
    sink.write_updates([*batch, odds(3)])  # another batch, even one that overlaps
    assert len(stored(client, "snuper:nba:101:selection")) == 5


def test_a_list_key_of_another_type_fails_the_whole_batch(
    sink: CacheSink, client: redis.Redis
) -> None:
    client.set("snuper:nba:102:selection", "not a list")
    batch: list[Record] = [raw(1), odds(1), odds(2, "102")]
    with pytest.raises(SinkError, match="snuper:nba:102:selection") as failed:
        sink.write_updates(batch)
    assert failed.value.permanent
    assert stored(client, "snuper:nba:101:selection") == []  # nothing of it was written
    client.delete("snuper:nba:102:selection")
    sink.write_updates(batch)  # and the batch is not taken as stored
    assert len(stored(client, "snuper:nba:101:selection")) == 1


# -- snapshots -----------------------------------------------------------------------------------


def on_day(days: int, event_id: str = "101") -> Snapshot:
    """A snapshot of the slate `days` after 20261201."""
    return snapshot(event(event_id, start=START + timedelta(days=days)))


def test_snapshot_keys(sink: CacheSink, client: redis.Redis) -> None:
    first = on_day(0)
    assert sink.save_snapshot(first) is True
    expected = {
        "snuper:snapshots:draftkings:nba", "snuper:snapshots:draftkings:nba:20261201",
        "snuper:snapshots:draftkings:nba:dates", "snuper:snapshots:draftkings:leagues",
    }  # fmt: skip
    assert our_keys(client) == expected
    for key in ("snuper:snapshots:draftkings:nba", "snuper:snapshots:draftkings:nba:20261201"):
        assert Snapshot.from_json(value(client, key)) == first
    assert client.smembers("snuper:snapshots:draftkings:leagues") == {b"nba"}
    for key in expected:
        assert 0 < ttl_of(client, key) <= TTL, key
    assert sink.describe(first) == f"{sink.where} key snuper:snapshots:draftkings:nba"


def test_snapshot_is_kept_or_overwritten(sink: CacheSink, client: redis.Redis) -> None:
    first, second = on_day(0), on_day(0, "202")
    key = "snuper:snapshots:draftkings:nba:20261201"
    assert sink.save_snapshot(first) is True
    client.expire(key, 5)
    assert sink.save_snapshot(second) is False
    assert Snapshot.from_json(value(client, key)) == first
    assert ttl_of(client, key) <= 5  # nothing written, not even the TTL
    assert sink.save_snapshot(second, overwrite=True) is True
    assert Snapshot.from_json(value(client, key)) == second
    assert Snapshot.from_json(value(client, "snuper:snapshots:draftkings:nba")) == second


def test_an_unreadable_snapshot_is_replaced(
    sink: CacheSink, client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    key = "snuper:snapshots:draftkings:nba:20261201"
    client.set(key, b'{"schema": 1, "provider": "draft')
    with caplog.at_level(logging.WARNING, logger="snuper.sinks.cache"):
        assert sink.save_snapshot(on_day(0)) is True
    assert Snapshot.from_json(value(client, key)) == on_day(0)
    assert key in caplog.text and "replaced" in caplog.text


def test_the_undated_key_holds_the_newest_slate(sink: CacheSink, client: redis.Redis) -> None:
    assert sink.save_snapshot(on_day(1)) is True
    assert sink.save_snapshot(on_day(0)) is True  # an older slate, saved later
    newest = value(client, "snuper:snapshots:draftkings:nba")
    assert Snapshot.from_json(newest).slate_date == "20261202"
    older = value(client, "snuper:snapshots:draftkings:nba:20261201")
    assert Snapshot.from_json(older) == on_day(0)


def test_load_takes_the_slate_else_the_newest_earlier_never_a_later(sink: CacheSink) -> None:
    for days in (-3, 0, 2):  # slates 20261128, 20261201, 20261203
        assert sink.save_snapshot(on_day(days)) is True

    def slate_of(slate: str | None) -> list[str]:
        found = sink.load_snapshots("draftkings", ["nba", "nfl"], slate)
        assert found.unreadable == {}
        return [s.slate_date for s in found.snapshots]

    assert slate_of("20261201") == ["20261201"]
    assert slate_of("20261202") == ["20261201"]
    assert slate_of("20261203") == ["20261203"]
    assert slate_of("20261130") == ["20261128"]
    assert slate_of("20261127") == []
    assert slate_of(None) == ["20261203"]
    assert sink.load_snapshots("fanduel", ["nba"]).snapshots == []


def test_load_passes_over_an_expired_slate(sink: CacheSink, client: redis.Redis) -> None:
    sink.save_snapshot(on_day(-1))
    sink.save_snapshot(on_day(0))
    client.delete("snuper:snapshots:draftkings:nba:20261201")  # expired; the index still has it
    found = sink.load_snapshots("draftkings", ["nba"], "20261201")
    assert [s.slate_date for s in found.snapshots] == ["20261130"]


def test_load_reports_unreadable_snapshots(sink: CacheSink, client: redis.Redis) -> None:
    sink.save_snapshot(on_day(-1))
    key = "snuper:snapshots:draftkings:nba:20261201"
    client.set(key, b"{not json")
    client.zadd("snuper:snapshots:draftkings:nba:dates", {"20261201": 20261201})
    found = sink.load_snapshots("draftkings", ["nba"], "20261201")
    assert found.snapshots == []
    assert key in found.unreadable["nba"] and "cannot read" in found.unreadable["nba"]
    client.set(key, on_day(-1).to_json())  # a snapshot of another slate under this key
    found = sink.load_snapshots("draftkings", ["nba"], "20261201")
    assert "its key says draftkings/nba/20261201" in found.unreadable["nba"]


# -- reading back --------------------------------------------------------------------------------


def test_last_prices_take_the_newest_per_market_and_side(sink: CacheSink) -> None:
    sink.write_updates([raw(1), odds(1, american=-150), odds(2, side="away", american=130)])
    sink.write_updates([odds(3, american=-165), heartbeat(4), odds(5, "999", american=200)])
    prices = {(p.market, p.side): p for p in sink.last_prices(on_day(0))}
    assert set(prices) == {("moneyline", "home"), ("moneyline", "away")}
    home = prices[("moneyline", "home")]
    assert (home.event_id, home.selection_id, home.odds_american) == ("101", "0ML500_3", -165)
    assert home.line is None and home.odds_decimal == pytest.approx(1 + 100 / 165)
    assert prices[("moneyline", "away")].odds_american == 130
    assert sink.last_prices(on_day(0, "555")) == []  # nothing stored for that event


def test_read_event_gives_odds_and_heartbeats_in_order(sink: CacheSink) -> None:
    first: list[Record] = [raw(1), odds(1), heartbeat(2)]
    second: list[Record] = [raw(3), odds(3), odds(4, "102")]
    sink.write_updates(first)
    sink.write_updates(second)
    read = sink.read_event("draftkings", "nba", SLATE, "101")
    assert [r.to_dict() for r in read] == [odds(1).to_dict(), heartbeat(2).to_dict(),
                                           odds(3).to_dict()]  # fmt: skip
    assert sink.read_event("draftkings", "nba", SLATE, "555") == []
    assert sink.read_event("fanduel", "nba", SLATE, "101") == []  # the key is not per book


def test_ids_that_would_make_bad_keys_are_refused(sink: CacheSink) -> None:
    bad = odds(1, "../../x")
    with pytest.raises(SinkError, match="event_id") as failed:
        sink.write_updates([bad])
    assert failed.value.permanent
    with pytest.raises(SinkError, match="league") as failed:
        sink.read_event("draftkings", "nba:*", SLATE, "101")
    assert failed.value.permanent
    with pytest.raises(SinkError, match="slate_date"):
        sink.load_snapshots("draftkings", ["nba"], "2026-12-01")


# -- claims --------------------------------------------------------------------------------------


def test_a_claim_is_exclusive_until_close(redis_uri: str, client: redis.Redis) -> None:
    first, second = CacheSink(redis_uri), CacheSink(redis_uri)
    first.claim("draftkings", "nba")
    first.claim("draftkings", "nba")  # ours already: fine
    token = value(client, "snuper:lock:draftkings:nba").decode()
    assert token.startswith(f"{socket.gethostname()}:{os.getpid()}:")
    assert 0 < ttl_of(client, "snuper:lock:draftkings:nba") <= 60
    with pytest.raises(SinkBusy, match=token):
        second.claim("draftkings", "nba")
    second.claim("draftkings", "nfl")  # another league is free
    first.close()
    assert client.get("snuper:lock:draftkings:nba") is None
    second.claim("draftkings", "nba")
    second.close()
    assert our_keys(client) == set()


def test_a_claim_of_a_process_gone_is_taken_over(sink: CacheSink, client: redis.Redis) -> None:
    key = "snuper:lock:draftkings:nba"
    host = socket.gethostname()
    for holder in (f"{host}:{os.getppid()}:abc", f"elsewhere:{os.getpid() + 1}:abc"):
        client.set(key, holder, ex=60)  # alive here, or on another host: wait for it
        with pytest.raises(SinkBusy, match=holder):
            sink.claim("draftkings", "nba")
    finished = subprocess.Popen(["true"])
    finished.wait()
    client.set(
        key, f"{host}:{finished.pid}:abc", ex=60
    )  # a crash, or a close that could not reach Redis
    sink.claim("draftkings", "nba")
    assert value(client, key).decode().startswith(f"{host}:{os.getpid()}:")


def test_writes_renew_the_claim_and_notice_losing_it(
    sink: CacheSink, client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache, "LOCK_RENEW_S", 0.0)  # renew on every call
    key = "snuper:lock:draftkings:nba"
    sink.claim("draftkings", "nba")
    client.expire(key, 5)
    sink.flush()
    assert ttl_of(client, key) > 5
    client.delete(key)  # expired in a quiet spell: taken again
    sink.write_updates([odds(1)])
    assert client.get(key) is not None
    client.set(key, "elsewhere:1:abc")  # another monitor took it meanwhile
    with pytest.raises(SinkBusy, match="elsewhere:1:abc") as failed:
        sink.write_updates([odds(2)])
    assert failed.value.permanent
    assert len(stored(client, "snuper:nba:101:selection")) == 1  # not written
    sink.close()
    assert client.get(key) == b"elsewhere:1:abc"  # close releases only what is ours


# -- settings ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "flag"),
    [
        (SinkSettings(), "--cache-uri"),
        (SinkSettings(cache_uri="http://:pw@127.0.0.1:6379/0"), "--cache-uri"),
        (SinkSettings(cache_uri="127.0.0.1:6379"), "--cache-uri"),
        (SinkSettings(cache_uri="unix://?db=1&password=pw"), "--cache-uri"),
        (SinkSettings(cache_uri="redis://:pw@127.0.0.1:port/0"), "--cache-uri"),
        (SinkSettings(cache_uri="redis://127.0.0.1:6379/0?db=x"), "--cache-uri"),
        (SinkSettings(cache_uri="redis://127.0.0.1:6379/0", cache_ttl=0), "--cache-ttl"),
        (SinkSettings(cache_uri="redis://127.0.0.1:6379/0", cache_max_items=0),
         "--cache-max-items"),
    ],
)  # fmt: skip
def test_bad_settings_name_their_flag(settings: SinkSettings, flag: str) -> None:
    with pytest.raises(SinkConfigError) as failed:
        build_sink("cache", settings)
    assert failed.value.flag == flag
    assert "pw" not in str(failed.value)


def test_check_uri_and_redacted() -> None:
    for uri in ("redis://127.0.0.1:6379/3", "rediss://u:p@h:6380/0", "unix:///tmp/redis.sock"):
        assert check_uri(uri) == uri
    assert redacted("redis://:s3cret@h:6379/3") == "redis://:***@h:6379/3"
    assert redacted("rediss://default:s3cret@h/0") == "rediss://default:***@h/0"
    assert redacted("redis://user@h/0") == "redis://user@h/0"
    assert redacted("unix:///run/r.sock?db=2&password=s3cret") == (
        "unix:///run/r.sock?db=2&password=***"
    )
    assert redacted("redis://127.0.0.1:6379/3") == "redis://127.0.0.1:6379/3"
    assert redacted("h:s3cret@x") == "***@x"


def test_describe_redacts(redis_uri: str) -> None:
    uri = redis_uri.replace("redis://", "redis://:s3cret@")
    described = CacheSink(uri).describe(on_day(0))
    assert described == f"{redacted(uri)} key snuper:snapshots:draftkings:nba"
    assert "s3cret" not in described


# -- outages -------------------------------------------------------------------------------------

DOWN = "redis://:secret@127.0.0.1:1/0"  # nothing listens on port 1


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.write_updates([odds(1)]),
        lambda s: s.save_snapshot(on_day(0)),
        lambda s: s.load_snapshots("draftkings", ["nba"]),
        lambda s: s.claim("draftkings", "nba"),
        lambda s: s.last_prices(on_day(0)),
        lambda s: s.read_event("draftkings", "nba", SLATE, "101"),
    ],
)
def test_an_unreachable_server_is_a_transient_failure(call: Callable[[CacheSink], object]) -> None:
    sink = build(SinkSettings(cache_uri=DOWN))
    with pytest.raises(SinkError) as failed:
        call(sink)
    assert not failed.value.permanent
    assert "127.0.0.1:1" in str(failed.value) and "secret" not in str(failed.value)
    sink.flush()  # no claim to renew: flush does not talk to Redis at all
    sink.close()


class Relay:
    """A TCP relay to the test Redis that can be cut and restored on the same port."""

    def __init__(self) -> None:
        self.port = 0
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._spawn(self._accept, listener)

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                near, _ = listener.accept()
            except OSError:  # stopped
                return
            far = socket.create_connection((REDIS_HOST, REDIS_PORT))
            self._sockets += [near, far]
            self._spawn(_pump, near, far)
            self._spawn(_pump, far, near)

    def stop(self) -> None:
        assert self._listener is not None
        for sock in [self._listener, *self._sockets]:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # wakes the threads blocked on it
        for thread in self._threads:
            thread.join(timeout=5)
        for sock in [self._listener, *self._sockets]:
            sock.close()
        self._listener, self._sockets, self._threads = None, [], []


def _pump(source: socket.socket, target: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            target.sendall(data)


@pytest.fixture
def relay() -> Iterator[Relay]:
    made = Relay()
    made.start()
    try:
        yield made
    finally:
        if made._listener is not None:
            made.stop()


def test_the_sink_recovers_when_the_server_comes_back(
    redis_uri: str, client: redis.Redis, relay: Relay
) -> None:
    db = redis_uri.rsplit("/", 1)[1]
    sink = CacheSink(f"redis://127.0.0.1:{relay.port}/{db}")
    sink.write_updates([odds(1)])
    relay.stop()
    batch: list[Record] = [odds(2), heartbeat(3)]
    with pytest.raises(SinkError) as failed:
        sink.write_updates(batch)
    assert not failed.value.permanent and f"127.0.0.1:{relay.port}" in str(failed.value)
    relay.start()
    sink.write_updates(batch)  # the same sink, the same batch
    sink.write_updates(batch)
    assert stored(client, "snuper:nba:101:selection") == [
        odds(1).to_json(), odds(2).to_json(), heartbeat(3).to_json(),
    ]  # fmt: skip
    sink.close()


def test_replies_that_say_try_later_are_transient() -> None:
    assert cache.is_transient(redis.exceptions.ReadOnlyError("READONLY You can't write"))
    assert cache.is_transient(redis.ResponseError("READONLY You can't write against a replica"))
    assert cache.is_transient(redis.exceptions.BusyLoadingError("LOADING"))
    assert not cache.is_transient(redis.AuthenticationError("invalid password"))
    assert not cache.is_transient(redis.ResponseError("WRONGTYPE Operation against a key"))


def test_stored_json_is_the_records_json(sink: CacheSink, client: redis.Redis) -> None:
    sink.write_updates([raw(1), odds(1)])
    (entry,) = stored(client, "snuper:nba:101:raw")
    data = orjson.loads(entry)
    assert data["type"] == "raw" and data["received_at"] == raw(1).received_at
    assert data["payload"] == raw(1).payload
