"""The s3 sink against moto's S3 server (a bucket of its own per test, tests/services.py)."""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import orjson
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError

from snuper.config import SinkSettings
from snuper.model import (
    Heartbeat,
    Market,
    OddsUpdate,
    Price,
    RawMessage,
    Record,
    Side,
    Snapshot,
    record_from_json,
)
from snuper.sinks import s3
from snuper.sinks.base import SinkBusy, SinkConfigError, SinkError, build_sink
from snuper.sinks.s3 import S3Sink, build, check_bucket, check_prefix, read_event_records
from snuper.slate import iso_utc
from tests.factories import START, event, snapshot
from tests.services import S3Place

PREFIX = "runs/test"
CHUNK = re.compile(r"[0-9]{13}-[0-9]{6}-[0-9a-f]{6}\.jsonl")
T0 = START + timedelta(minutes=20)


class Clock:
    """A monotonic clock the test moves by hand: no test sleeps for an age."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Wrapped:
    """A real client that fails some calls first and counts the ones it makes."""

    def __init__(self, client: Any, fail: dict[str, list[Exception]] | None = None) -> None:
        self.client = client
        self.fail = fail or {}
        self.calls: list[tuple[str, str]] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.client, name)
        if not callable(method) or name in ("get_paginator", "meta"):
            return method

        def call(**kwargs: Any) -> Any:
            self.calls.append((name, kwargs.get("Key", kwargs.get("Prefix", ""))))
            if self.fail.get(name):
                raise self.fail[name].pop(0)
            return method(**kwargs)

        return call


def odds(
    event_id: str = "101", n: int = 0, market: Market = "moneyline", side: Side = "home",
    american: int = -160,
) -> OddsUpdate:  # fmt: skip
    at = iso_utc(T0 + timedelta(milliseconds=n))
    return OddsUpdate(
        "draftkings", "nba", event_id, "20261201", f"0{market}500_{side}", market, side,
        None, american, 1.625, Price(None, -150, 1.6667), None, at,
    )  # fmt: skip


def beat(event_id: str = "101", n: int = 0) -> Heartbeat:
    at = iso_utc(T0 + timedelta(milliseconds=n))
    return Heartbeat("draftkings", "nba", event_id, "20261201", at, 4, 0, 900, 60.0)


@pytest.fixture
def client(s3_place: S3Place) -> Any:
    return s3.client()


@pytest.fixture
def make(s3_place: S3Place, client: Any) -> Callable[..., S3Sink]:
    """S3Sink(client, the test's bucket, PREFIX, clock=Clock(), **options)."""

    def sink(**options: Any) -> S3Sink:
        options.setdefault("clock", Clock())
        return S3Sink(options.pop("client", client), s3_place.bucket, PREFIX, **options)

    return sink


def keys(client: Any, bucket: str, under: str = "") -> list[str]:
    listed = client.list_objects_v2(Bucket=bucket, Prefix=under).get("Contents", [])
    return sorted(item["Key"] for item in listed)


def body(client: Any, bucket: str, key: str) -> bytes:
    data: bytes = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    return data


def chunks(client: Any, bucket: str, event_id: str = "101") -> list[str]:
    return keys(client, bucket, f"{PREFIX}/draftkings/odds/20261201-nba-{event_id}/")


def jsonl(*records: Record) -> bytes:
    return b"".join(r.to_json() + b"\n" for r in records)


# -- snapshots ------------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["", PREFIX])
def test_the_snapshot_put_is_conditional(s3_place: S3Place, client: Any, prefix: str) -> None:
    sink = S3Sink(client, s3_place.bucket, prefix)
    first = snapshot()
    key = f"{prefix}/draftkings/events/20261201-nba.json".lstrip("/")
    assert sink.save_snapshot(first) is True
    assert keys(client, s3_place.bucket) == [key]
    assert sink.describe(first) == f"s3://{s3_place.bucket}/{key}"
    assert Snapshot.from_json(body(client, s3_place.bucket, key)) == first
    second = snapshot(event("202", "700"))
    assert sink.save_snapshot(second) is False
    assert Snapshot.from_json(body(client, s3_place.bucket, key)) == first
    assert sink.save_snapshot(second, overwrite=True) is True
    assert Snapshot.from_json(body(client, s3_place.bucket, key)) == second


def test_an_unreadable_snapshot_is_kept_aside_and_replaced(
    s3_place: S3Place, client: Any, make: Callable[..., S3Sink], caplog: pytest.LogCaptureFixture
) -> None:
    key = f"{PREFIX}/draftkings/events/20261201-nba.json"
    client.put_object(Bucket=s3_place.bucket, Key=key, Body=b"{")
    with caplog.at_level(logging.WARNING, "snuper.sinks.s3"):
        assert make().save_snapshot(snapshot()) is True
    assert Snapshot.from_json(body(client, s3_place.bucket, key)) == snapshot()
    aside = [k for k in keys(client, s3_place.bucket) if k != key]
    assert len(aside) == 1 and aside[0].startswith(f"{key}.unreadable-")
    assert body(client, s3_place.bucket, aside[0]) == b"{"
    assert f"s3://{s3_place.bucket}/{aside[0]}" in caplog.text


def test_the_monitored_slate_is_loaded_never_a_later_one(make: Callable[..., S3Sink]) -> None:
    sink = make()
    days = {
        day: snapshot(event(f"{n}01", f"{n}00", start=START + timedelta(days=n)))
        for n, day in ((-2, "20261129"), (-1, "20261130"), (1, "20261202"))
    }
    for one in days.values():
        sink.save_snapshot(one)

    def loaded(slate: str | None) -> list[Snapshot]:
        found = sink.load_snapshots("draftkings", ["nba", "nfl"], slate)
        assert found.unreadable == {}
        return found.snapshots

    assert loaded("20261130") == [days["20261130"]]
    assert loaded("20261201") == [days["20261130"]]  # none of its own: the newest earlier one
    assert loaded("20261128") == []  # never a later one
    assert loaded(None) == [days["20261202"]]


def test_unreadable_and_mislabelled_snapshots_are_reported(
    s3_place: S3Place, client: Any, make: Callable[..., S3Sink]
) -> None:
    sink = make()
    good = snapshot()
    sink.save_snapshot(good)
    folder = f"{PREFIX}/draftkings/events/"
    client.put_object(Bucket=s3_place.bucket, Key=f"{folder}20261201-nfl.json", Body=b"[1]")
    client.put_object(Bucket=s3_place.bucket, Key=f"{folder}20261201-mlb.json", Body=good.to_json())
    client.put_object(Bucket=s3_place.bucket, Key=f"{folder}notes.txt", Body=b"x")
    loaded = sink.load_snapshots("draftkings", ["nfl", "nba", "mlb"])
    assert loaded.snapshots == [good]
    url = f"s3://{s3_place.bucket}/{folder}"
    assert loaded.unreadable["nfl"].startswith(f"cannot read snapshot {url}20261201-nfl.json: ")
    assert loaded.unreadable["mlb"] == (
        f"cannot use snapshot {url}20261201-mlb.json: it holds draftkings/nba/20261201, "
        "its name says draftkings/mlb/20261201"
    )
    assert sink.load_snapshots("fanduel", ["nba"]).snapshots == []


# -- chunks ---------------------------------------------------------------------------------------


def test_chunks_are_keyed_by_event_and_hold_jsonl_in_order(
    s3_place: S3Place, client: Any, make: Callable[..., S3Sink]
) -> None:
    sink = make()
    first: list[Record] = [odds("101", 0), beat("102", 1), odds("101", 2, "spread", "away")]
    sink.write_updates(first)
    assert keys(client, s3_place.bucket) == []  # buffered until a chunk is due
    sink.flush(final=True)
    [one] = chunks(client, s3_place.bucket, "101")
    [two] = chunks(client, s3_place.bucket, "102")
    folder = f"{PREFIX}/draftkings/odds/20261201-nba-101/"
    assert one.startswith(folder) and CHUNK.fullmatch(one[len(folder) :])
    first_ms = (T0 - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
    assert one[len(folder) :].startswith(f"{first_ms:013d}-")
    assert body(client, s3_place.bucket, one) == jsonl(first[0], first[2])
    assert body(client, s3_place.bucket, two) == jsonl(first[1])


def test_a_chunk_is_written_on_size_and_the_rest_on_the_final_flush(
    s3_place: S3Place, client: Any, make: Callable[..., S3Sink]
) -> None:
    sink = make(chunk_records=3)
    records = [odds("101", n, american=-100 - n) for n in range(7)]
    sink.write_updates(records[:4])
    sink.write_updates(records[4:])
    written = chunks(client, s3_place.bucket)
    assert [body(client, s3_place.bucket, k) for k in written] == [
        jsonl(*records[:3]), jsonl(*records[3:6])
    ]  # fmt: skip
    sink.flush()  # nothing is old yet
    assert chunks(client, s3_place.bucket) == written
    sink.flush(final=True)
    assert len(chunks(client, s3_place.bucket)) == 3
    assert sink.read_event("draftkings", "nba", "20261201", "101") == records


def test_a_chunk_is_written_on_bytes(
    s3_place: S3Place, client: Any, make: Callable[..., S3Sink]
) -> None:
    size = len(odds().to_json()) + 1
    sink = make(chunk_bytes=2 * size)
    sink.write_updates([odds("101", 0), odds("101", 1), odds("101", 2)])
    [written] = chunks(client, s3_place.bucket)
    assert body(client, s3_place.bucket, written) == jsonl(odds("101", 0), odds("101", 1))


def test_a_chunk_is_written_on_age_by_flush(
    s3_place: S3Place, client: Any, make: Callable[..., S3Sink]
) -> None:
    clock = Clock()
    sink = make(clock=clock, chunk_age_s=10.0)
    sink.write_updates([odds("101", 0)])
    clock.now += 6
    sink.write_updates([odds("101", 1), odds("102", 2)])
    clock.now += 3.9
    sink.flush()
    assert keys(client, s3_place.bucket) == []
    clock.now += 0.1  # 101's first record is 10 s old; 102's only 4 s
    sink.flush()
    [written] = chunks(client, s3_place.bucket, "101")
    assert body(client, s3_place.bucket, written) == jsonl(odds("101", 0), odds("101", 1))
    assert chunks(client, s3_place.bucket, "102") == []
    clock.now += 6
    sink.flush()
    assert len(chunks(client, s3_place.bucket, "102")) == 1


def test_a_flush_with_nothing_due_makes_no_request(
    s3_place: S3Place, client: Any, make: Callable[..., S3Sink]
) -> None:
    counted = Wrapped(client)
    sink = make(client=counted)
    sink.write_updates([odds("101", 0)])
    for _ in range(50):
        sink.flush()
    assert counted.calls == []
    sink.flush(final=True)
    assert [name for name, _ in counted.calls] == ["put_object"]


def test_a_batch_passed_again_is_not_stored_twice(
    s3_place: S3Place, client: Any, make: Callable[..., S3Sink]
) -> None:
    sink = make(chunk_records=2)
    batch = [odds("101", n) for n in range(3)]
    sink.write_updates(batch)
    sink.write_updates(batch)  # one chunk written, one record buffered: neither again
    # A fanout spill replay: other objects, the same JSON.
    replayed = [record_from_json(record.to_json()) for record in batch]
    sink.write_updates([*replayed, beat("101", 5)])
    sink.flush(final=True)
    sink.write_updates(batch)  # after it was written too
    sink.close()
    assert sink.read_event("draftkings", "nba", "20261201", "101") == [*batch, beat("101", 5)]


def test_raw_messages_are_not_stored(s3_place: S3Place, make: Callable[..., S3Sink]) -> None:
    sink = make()
    raw = RawMessage("draftkings", "nba", "101", "20261201", "2026-12-02T00:30:00Z", {"a": 1})
    sink.write_updates([raw, odds("101", 1)])
    sink.flush(final=True)
    assert sink.read_event("draftkings", "nba", "20261201", "101") == [odds("101", 1)]


def test_a_failed_put_keeps_the_records_and_is_retried_with_the_same_key(
    s3_place: S3Place, client: Any, make: Callable[..., S3Sink]
) -> None:
    down = EndpointConnectionError(endpoint_url="http://127.0.0.1:9")
    flaky = Wrapped(client, {"put_object": [down, down]})
    sink = make(client=flaky, chunk_records=2)
    batch = [odds("101", n) for n in range(3)]
    with pytest.raises(SinkError, match=r"cannot write s3://.*/20261201-nba-101/") as failed:
        sink.write_updates(batch)
    assert failed.value.permanent is False
    assert failed.value.stored == 3  # buffered: a later flush writes them
    assert keys(client, s3_place.bucket) == []
    with pytest.raises(SinkError):  # the flush retries the chunk, and fails again
        sink.flush(final=True)
    sink.write_updates(batch)  # passed again: nothing doubled, the chunk goes now
    sink.flush(final=True)
    puts = [key for name, key in flaky.calls if name == "put_object"]
    assert puts[0] == puts[1] == puts[2]  # the same chunk, under the same key, each time
    assert len(chunks(client, s3_place.bucket)) == 2
    assert sink.read_event("draftkings", "nba", "20261201", "101") == batch


@pytest.mark.parametrize(
    ("code", "status", "permanent"),
    [("SlowDown", 503, False), ("InternalError", 500, False), ("AccessDenied", 403, True),
     ("NoSuchBucket", 404, True), ("RequestTimeout", 400, False)],
)  # fmt: skip
def test_s3_errors_are_permanent_or_not(
    client: Any, make: Callable[..., S3Sink], code: str, status: int, permanent: bool
) -> None:
    error = ClientError(
        {"Error": {"Code": code, "Message": "no"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "PutObject",
    )
    sink = make(client=Wrapped(client, {"put_object": [error]}))
    with pytest.raises(SinkError, match=f"cannot write s3://.*: {code}: no") as failed:
        sink.save_snapshot(snapshot())
    assert failed.value.permanent is permanent


def test_a_bucket_that_does_not_exist_is_a_permanent_error(s3_place: S3Place, client: Any) -> None:
    sink = S3Sink(client, f"{s3_place.bucket}-missing", PREFIX)
    sink.write_updates([odds()])
    with pytest.raises(SinkError, match=f"s3://{s3_place.bucket}-missing/.*NoSuchBucket") as e:
        sink.flush(final=True)
    assert e.value.permanent is True


def test_no_server_is_a_transient_error(s3_place: S3Place) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    fast = s3.CLIENT_CONFIG.merge(Config(retries={"max_attempts": 1}))
    nowhere = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", config=fast)
    with pytest.raises(SinkError, match=f"cannot write s3://{s3_place.bucket}/") as failed:
        S3Sink(nowhere, s3_place.bucket).save_snapshot(snapshot())
    assert failed.value.permanent is False


def test_a_bad_id_is_refused_before_anything_is_buffered(make: Callable[..., S3Sink]) -> None:
    sink = make()
    bad = odds()
    bad.event_id = "../x"
    with pytest.raises(SinkError, match="event_id") as failed:
        sink.write_updates([odds("101", 0), bad])
    assert failed.value.permanent is True
    assert sink._waiting == {}
    with pytest.raises(SinkError, match="provider") as failed:
        sink.load_snapshots("../x", ["nba"])
    assert failed.value.permanent is True


# -- reading ---------------------------------------------------------------------------------


def test_read_event_reads_every_chunk_in_order(
    s3_place: S3Place, client: Any, make: Callable[..., S3Sink]
) -> None:
    clock = Clock()
    sink = make(clock=clock, chunk_records=2)
    records: list[Record] = []
    for n in range(9):  # chunks on size, on age and on the final flush
        records.append(odds("101", n, american=-100 - n) if n % 3 else beat("101", n))
        sink.write_updates(records[-1:])
        clock.now += 4
        sink.flush()
    sink.close()
    assert len(chunks(client, s3_place.bucket)) >= 4
    assert sink.read_event("draftkings", "nba", "20261201", "101") == records
    read = read_event_records(client, s3_place.bucket, PREFIX, "draftkings", "nba",
                              "20261201", "101")  # fmt: skip
    assert read == records
    assert sink.read_event("draftkings", "nba", "20261201", "10") == []


def test_chunk_keys_keep_the_write_order_when_the_clock_steps_back(
    make: Callable[..., S3Sink],
) -> None:
    sink = make()
    records = [odds("101", 5000), odds("101", 0, american=-170), odds("101", 1, american=-175)]
    for record in records:  # a chunk each; received_at went back a few seconds (NTP)
        sink.write_updates([record])
        sink.flush(final=True)
    assert sink.read_event("draftkings", "nba", "20261201", "101") == records


def test_last_prices_are_the_last_per_market_and_side(make: Callable[..., S3Sink]) -> None:
    sink = make(chunk_records=2)
    sink.write_updates([
        odds("101", 0, american=-170), odds("101", 1, "total", "over", -110),
        odds("101", 2, american=-180), beat("101", 3), odds("999", 4, american=-200),
    ])  # fmt: skip
    sink.close()
    found = sink.last_prices(snapshot(event("101"), event("102", "600")))
    assert sorted((p.market, p.side, p.odds_american) for p in found) == [
        ("moneyline", "home", -180), ("total", "over", -110)
    ]  # fmt: skip
    assert {p.event_id for p in found} == {"101"}


def test_last_prices_stop_at_the_chunk_that_completes_the_event(
    client: Any, make: Callable[..., S3Sink]
) -> None:
    sink = make()
    sides = [(s.market, s.side) for s in event().selections]
    for n in range(3):  # three chunks, each with every market and side
        sink.write_updates([odds("101", 10 * n + i, m, s, -101 - n) for i, (m, s) in
                            enumerate(sides)])  # fmt: skip
        sink.flush(final=True)
    counted = Wrapped(client)
    found = make(client=counted).last_prices(snapshot())
    assert {p.odds_american for p in found} == {-103} and len(found) == 6
    assert [name for name, _ in counted.calls] == ["get_object"]  # the last chunk only


# -- locks ---------------------------------------------------------------------------------------


def lock_of(client: Any, bucket: str, league: str = "nba") -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(
        body(client, bucket, f"{PREFIX}/draftkings/locks/{league}.lock")
    )
    return data


def test_a_league_is_claimed_by_one_monitor_at_a_time(
    s3_place: S3Place, client: Any, make: Callable[..., S3Sink]
) -> None:
    first, second = make(), make()
    first.claim("draftkings", "nba")
    first.claim("draftkings", "nba")  # already ours
    holder = lock_of(client, s3_place.bucket)
    assert set(holder) == {"host", "pid", "token", "at"}
    with pytest.raises(SinkBusy, match=rf"draftkings nba .* pid {holder['pid']} "):
        second.claim("draftkings", "nba")
    second.claim("draftkings", "nfl")  # another league is free
    first.close()
    assert keys(client, s3_place.bucket, f"{PREFIX}/draftkings/locks/nba") == []
    second.claim("draftkings", "nba")


def test_a_stale_lock_is_taken_over(
    s3_place: S3Place, client: Any, make: Callable[..., S3Sink]
) -> None:
    old = iso_utc(datetime.now(UTC) - timedelta(seconds=121))
    stale = {"host": "gone", "pid": 1, "token": "t", "at": old}
    key = f"{PREFIX}/draftkings/locks/nba.lock"
    client.put_object(Bucket=s3_place.bucket, Key=key, Body=orjson.dumps(stale))
    make().claim("draftkings", "nba")
    assert lock_of(client, s3_place.bucket)["host"] != "gone"
    fresh = stale | {"at": iso_utc(datetime.now(UTC) - timedelta(seconds=60))}
    client.put_object(Bucket=s3_place.bucket, Key=key, Body=orjson.dumps(fresh))
    with pytest.raises(SinkBusy, match="host gone pid 1"):
        make().claim("draftkings", "nba")


def test_a_held_lock_is_refreshed_at_most_every_30_s(
    s3_place: S3Place, client: Any, make: Callable[..., S3Sink]
) -> None:
    clock = Clock()
    sink = make(clock=clock)
    sink.claim("draftkings", "nba")
    key = f"{PREFIX}/draftkings/locks/nba.lock"
    tag = client.head_object(Bucket=s3_place.bucket, Key=key)["ETag"]
    clock.now += 29.9
    sink.flush()
    assert client.head_object(Bucket=s3_place.bucket, Key=key)["ETag"] == tag
    clock.now += 0.1
    sink.flush()
    refreshed = client.head_object(Bucket=s3_place.bucket, Key=key)["ETag"]
    assert refreshed != tag
    clock.now += 29.9
    sink.flush()
    assert client.head_object(Bucket=s3_place.bucket, Key=key)["ETag"] == refreshed
    clock.now += 0.1
    sink.flush()
    assert client.head_object(Bucket=s3_place.bucket, Key=key)["ETag"] != refreshed


def test_a_lock_taken_over_stops_that_leagues_writes(
    s3_place: S3Place, client: Any, make: Callable[..., S3Sink]
) -> None:
    clock = Clock()
    sink = make(clock=clock)
    sink.claim("draftkings", "nba")
    key = f"{PREFIX}/draftkings/locks/nba.lock"
    other = {"host": "other", "pid": 2, "token": "u", "at": iso_utc(datetime.now(UTC))}
    client.put_object(Bucket=s3_place.bucket, Key=key, Body=orjson.dumps(other))
    clock.now += 30
    sink.flush()  # the refresh finds the lock is not ours any more
    with pytest.raises(SinkBusy, match="another monitor took over") as failed:
        sink.write_updates([odds()])
    assert failed.value.permanent is True
    sink.close()
    assert lock_of(client, s3_place.bucket)["host"] == "other"  # not ours to delete


# -- settings ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["ab", "a" * 64, "My-Bucket", "-abc", "abc-", "a..b", "192.168.1.2", "xn--abc",
     "abc-s3alias", "a_b", "abc.", ""],
)  # fmt: skip
def test_a_bad_bucket_name_names_the_flag(name: str) -> None:
    with pytest.raises(SinkConfigError) as failed:
        check_bucket(name)
    assert failed.value.flag == "--s3-bucket"
    with pytest.raises(SinkConfigError, match="--s3-bucket"):
        build(SinkSettings(s3_bucket=name))


@pytest.mark.parametrize("name", ["abc", "my.bucket-01", "a" * 63, "1.2.3.4.5"])
def test_a_good_bucket_name_is_kept(name: str) -> None:
    assert check_bucket(name) == name


@pytest.mark.parametrize("prefix", ["/a", "a/../b", "a b", "a\\b", "a//b", "./a", "ü"])
def test_a_bad_prefix_names_the_flag(prefix: str) -> None:
    with pytest.raises(SinkConfigError) as failed:
        check_prefix(prefix)
    assert failed.value.flag == "--s3-prefix"
    with pytest.raises(SinkConfigError, match="--s3-prefix"):
        build(SinkSettings(s3_bucket="snuper-data", s3_prefix=prefix))


@pytest.mark.parametrize(
    ("prefix", "kept"), [("", ""), ("a/b/", "a/b"), ("runs/2026-12_x(1)", "runs/2026-12_x(1)")]
)
def test_a_prefix_loses_its_trailing_slash(prefix: str, kept: str) -> None:
    assert check_prefix(prefix) == kept


def test_build_sink_by_name(s3_place: S3Place) -> None:
    sink = build_sink("s3", SinkSettings(s3_bucket=s3_place.bucket, s3_prefix="runs/"))
    assert isinstance(sink, S3Sink) and sink.prefix == "runs"
    assert (sink.name, sink.wants_raw) == ("s3", False)
    assert sink.bucket.client is s3.client()  # one client per process
    assert sink.save_snapshot(snapshot()) is True
    with pytest.raises(SinkConfigError, match="--s3-bucket"):
        build(SinkSettings())
