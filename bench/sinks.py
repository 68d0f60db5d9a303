"""sink_<name>_records_per_s: odds updates written per second until durable, by the rds
(PostgreSQL), cache (Redis), s3 (moto) and fanout (fs + rds + cache) sinks, each beside the fs
sink writing the same kind of records in the same batches as its reference.

Each run writes N_RECORDS odds updates over N_EVENTS events in batches of BATCH (what the
monitor hands its sink under load), calling flush() after each batch and close() at the end, all
timed: rds and cache store a batch before write_updates returns, s3 PUTs its chunks by the final
flush, the fs sink fsyncs on every flush, and the fanout's close() waits for every lane. Every run
gets records of its own (its own event ids and times: rds and cache skip a record or batch they
stored before, which would flatter them), and what each run stored is counted afterwards.

The services: a database of its own in the machine's PostgreSQL, an empty Redis db of its own
(from 15 down, flushed afterwards), and moto's S3 server in this process (it shares the GIL with
the client: s3 figures measure the sink's buffering plus moto, not AWS).
"""

from __future__ import annotations

import functools
import logging
import os
import random
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import psycopg
import redis

from bench.latency import environment
from bench.registry import Figure, Progress, figure, median
from snuper.config import SinkSettings
from snuper.model import Market, OddsUpdate, Price, Side
from snuper.sinks import cache, fs, rds, s3
from snuper.sinks.base import Sink
from snuper.sinks.fanout import FanoutSink
from snuper.slate import iso_utc, slate_date
from tests.services import AWS_TEST_ENV, PG_ADMIN, REDIS_HOST, REDIS_PORT, pg_database_uri

N_RECORDS = 20_000
N_EVENTS = 50
BATCH = 200  # records per write_updates, as the monitor batches under load
REPETITIONS = 4
WARMUP_BATCHES = 5  # per sink, untimed: pools connected, tables made, scripts loaded
TABLE = "snuper_events"
TARGETS = {"rds": 5_000.0, "cache": 10_000.0, "s3": 10_000.0, "fanout": 5_000.0}
SINKS = ("fs", *TARGETS)
START = datetime(2026, 12, 2, 0, 10, tzinfo=UTC)  # 19:10 in New York on 2026-12-01
SLATE = slate_date(START)
_REDIS_DBS = range(15, 0, -1)  # never db 0: a developer's
_PRICES = [p for p in range(-250, 255, 5) if p <= -105 or p >= 100]
_SELECTIONS: tuple[tuple[str, Market, Side, float | None], ...] = (
    ("0ML{n}_1", "moneyline", "home", None),
    ("0ML{n}_3", "moneyline", "away", None),
    ("0HC{n}N350_1", "spread", "home", -3.5),
    ("0HC{n}P350_3", "spread", "away", 3.5),
    ("0OU{n}O22150_1", "total", "over", 221.5),
    ("0OU{n}U22150_3", "total", "under", 221.5),
)


def _decimal(american: int) -> float:
    return round(1 + (american / 100 if american > 0 else 100 / -american), 4)


@functools.cache
def _changes(n_records: int) -> list[tuple[int, int, int, int | None]]:
    """(event, selection, price, previous price) of each change, seeded: every run the same."""
    rng = random.Random(7)
    last: dict[tuple[int, int], int] = {}
    changes = []
    for _ in range(n_records):
        e, s = rng.randrange(N_EVENTS), rng.randrange(len(_SELECTIONS))
        american = rng.choice(_PRICES)
        changes.append((e, s, american, last.get((e, s))))
        last[(e, s)] = american
    return changes


def make_batches(run: int, n_records: int = N_RECORDS) -> list[list[OddsUpdate]]:
    """`n_records` price changes over N_EVENTS events (6 selections each), one per millisecond,
    in batches of BATCH. The same prices in every run; event ids and times are the run's own,
    so no two runs write the same record."""
    base = START + timedelta(hours=run)  # received one per ms: an hour per run is plenty
    events = [str(34_000_000 + run * 1000 + e) for e in range(N_EVENTS)]
    records: list[OddsUpdate] = []
    for i, (e, s, american, before) in enumerate(_changes(n_records)):
        template, market, side, line = _SELECTIONS[s]
        received = base + timedelta(milliseconds=i)
        records.append(
            OddsUpdate(
                provider="draftkings",
                league="nba",
                event_id=events[e],
                slate_date=SLATE,
                selection_id=template.format(n=86_627_000 + e),
                market=market,
                side=side,
                line=line,
                odds_american=american,
                odds_decimal=_decimal(american),
                previous=None if before is None else Price(line, before, _decimal(before)),
                source_ts=iso_utc(received - timedelta(milliseconds=40)),
                received_at=iso_utc(received),
            )
        )
    return [records[i : i + BATCH] for i in range(0, len(records), BATCH)]


def _event_ids(batches: Sequence[Sequence[OddsUpdate]]) -> list[str]:
    return sorted({r.event_id for batch in batches for r in batch})


def write_all(sink: Sink, batches: Sequence[Sequence[OddsUpdate]]) -> float:
    """Seconds to write every batch (flush after each) and close: everything durable."""
    started = time.perf_counter()
    for batch in batches:
        sink.write_updates(batch)
        sink.flush()
    sink.close()
    return time.perf_counter() - started


# -- the services: each made for this run and removed afterwards, even on failure --------------


@contextmanager
def postgres_database() -> Iterator[str]:
    """A database of its own; its SQLAlchemy URI. Dropped afterwards, with its connections."""
    name = f"snuper_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    uri = pg_database_uri(name)
    try:
        yield uri
    finally:
        rds.engine_for(uri).dispose()
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def redis_db() -> Iterator[str]:
    """An empty Redis db of its own (claimed with a marker key, flushed afterwards)."""
    for db in _REDIS_DBS:
        client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=db)
        try:
            if client.dbsize() == 0 and client.set("snuper:bench:owner", os.getpid(), nx=True):
                try:
                    yield f"redis://{REDIS_HOST}:{REDIS_PORT}/{db}"
                finally:
                    client.flushdb()
                return
        finally:
            client.close()
    raise RuntimeError(f"no empty Redis db among {_REDIS_DBS.start}..{_REDIS_DBS.stop + 1}")


@contextmanager
def s3_bucket() -> Iterator[str]:
    """moto's S3 server in this process, the AWS environment pointed at it, a bucket of its
    own; its name. The bucket is emptied and removed and the server stopped afterwards."""
    from moto.server import ThreadedMotoServer

    requests = logging.getLogger("werkzeug")  # moto's server logs every request at INFO
    level = requests.level
    requests.setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        with environment({**AWS_TEST_ENV, "AWS_ENDPOINT_URL_S3": f"http://{host}:{port}"}):
            bucket = f"snuper-bench-{uuid.uuid4().hex[:12]}"
            client = boto3.client("s3")
            client.create_bucket(Bucket=bucket)
            try:
                yield bucket
            finally:
                for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                    for obj in page.get("Contents", []):
                        client.delete_object(Bucket=bucket, Key=obj["Key"])
                client.delete_bucket(Bucket=bucket)
    finally:
        server.stop()
        requests.setLevel(level)


# -- what a run stored, counted afterwards (untimed) --------------------------------------------


def _fs_count(root: Path) -> int:
    return sum(p.read_bytes().count(b"\n") for p in (root / "draftkings" / "odds").iterdir())


def _rds_count(uri: str, events: Sequence[str]) -> int:
    dsn = uri.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            f"SELECT count(*) FROM {TABLE} WHERE kind = 'odds' AND event_id = ANY(%s)",
            (list(events),),
        ).fetchone()
    return int(row[0]) if row else 0


def _cache_count(uri: str, events: Sequence[str]) -> int:
    client = redis.Redis.from_url(uri)
    try:
        with client.pipeline(transaction=False) as pipe:
            for event_id in events:
                pipe.llen(cache.selection_key("nba", event_id))
            return sum(int(n) for n in pipe.execute())
    finally:
        client.close()


def _s3_count(bucket: str, prefix: str) -> tuple[int, int]:
    """The records stored under `prefix`, and the chunk objects holding them."""
    client = boto3.client("s3")
    count = objects = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            body: bytes = client.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            count += body.count(b"\n")
            objects += 1
    return count, objects


def _expect(name: str, stored: int, written: int) -> None:
    if stored != written:
        raise RuntimeError(f"sink {name}: {stored} of {written} records stored")


# -- the group -----------------------------------------------------------------------------------


class _Bench:
    """Builds each sink for a run, times it, and checks what it stored."""

    def __init__(self, pg_uri: str, redis_uri: str, bucket: str) -> None:
        self.pg_uri, self.redis_uri, self.bucket = pg_uri, redis_uri, bucket
        self.run = 0
        self.lanes_down: list[str] = []
        self.s3_chunks = 0  # chunk objects the last s3 run PUT

    def _rds(self) -> Sink:
        return rds.build(SinkSettings(rds_uri=self.pg_uri, rds_table=TABLE))

    def _cache(self) -> Sink:
        return cache.build(SinkSettings(cache_uri=self.redis_uri))

    def measure(self, name: str, n_records: int = N_RECORDS) -> float:
        """One timed run of sink `name` on records of its own; records per second. Its temp
        folders (fs output, fanout spill files) are removed when it ends."""
        self.run += 1
        batches = make_batches(self.run, n_records)
        written = sum(len(b) for b in batches)
        with ExitStack() as folders:

            def folder() -> Path:
                made = tempfile.TemporaryDirectory(prefix="snuper-bench-")
                return Path(folders.enter_context(made))

            took = self._measure(name, batches, folder)
        return written / took

    def _measure(
        self, name: str, batches: Sequence[Sequence[OddsUpdate]], folder: Callable[[], Path]
    ) -> float:
        events = _event_ids(batches)
        written = sum(len(b) for b in batches)
        if name == "fs":
            root = folder()
            took = write_all(fs.build(SinkSettings(fs_dir=root)), batches)
            _expect(name, _fs_count(root), written)
        elif name == "rds":
            took = write_all(self._rds(), batches)
            _expect(name, _rds_count(self.pg_uri, events), written)
        elif name == "cache":
            took = write_all(self._cache(), batches)
            _expect(name, _cache_count(self.redis_uri, events), written)
        elif name == "s3":
            prefix = f"bench/run{self.run:03d}"
            sink = s3.build(SinkSettings(s3_bucket=self.bucket, s3_prefix=prefix))
            took = write_all(sink, batches)
            stored, self.s3_chunks = _s3_count(self.bucket, prefix + "/")
            _expect(name, stored, written)
        elif name == "fanout":
            root = folder()
            members = [fs.build(SinkSettings(fs_dir=root)), self._rds(), self._cache()]
            fanout = FanoutSink(members, folder())
            took = write_all(fanout, batches)  # close() waits for every lane
            left = fanout.unfinished()
            if left:
                raise RuntimeError(f"fanout: not everything durable: {'; '.join(left)}")
            self.lanes_down += [f"{lane.name}: {lane.problem}" for lane in fanout.lanes()
                                if lane.problem]  # fmt: skip
            _expect("fanout fs", _fs_count(root), written)
            _expect("fanout rds", _rds_count(self.pg_uri, events), written)
            _expect("fanout cache", _cache_count(self.redis_uri, events), written)
        else:
            raise ValueError(f"unknown sink {name!r}")
        return took


def _server_notes(pg_uri: str, redis_uri: str) -> dict[str, dict[str, Any]]:
    """The durability settings each server ran with: they decide what "stored" costs."""
    dsn = pg_uri.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn:
        pg = {
            name: (row[0] if (row := conn.execute(f"SHOW {name}").fetchone()) else None)
            for name in ("server_version", "fsync", "synchronous_commit", "wal_sync_method")
        }
    client = redis.Redis.from_url(redis_uri, decode_responses=True)
    try:
        config = {
            str(key): str(value)
            for name in ("appendonly", "appendfsync")
            for key, value in client.config_get(name).items()
        }
        version = str(client.info("server").get("redis_version"))
    finally:
        client.close()
    return {
        "rds": {"server": "PostgreSQL on 127.0.0.1:5432", **pg},
        "cache": {"server": f"Redis {version} on 127.0.0.1:6379", **config},
        "s3": {"server": "moto ThreadedMotoServer in this process (shares the GIL); not AWS"},
        "fanout": {"sinks": ["fs", "rds", "cache"]},
    }


def _rotated(rep: int) -> list[str]:
    """Every sink once, starting one further each repetition: a noisy spell hits all alike."""
    shift = rep % len(SINKS)
    return [*SINKS[shift:], *SINKS[:shift]]


@figure("sink")
def sink_records_per_s(progress: Progress) -> list[Figure]:
    with ExitStack() as stack:
        pg_uri = stack.enter_context(postgres_database())
        redis_uri = stack.enter_context(redis_db())
        bucket = stack.enter_context(s3_bucket())
        progress(f"services: {pg_uri.rsplit('/', 1)[1]}, {redis_uri}, s3://{bucket} (moto)")
        bench = _Bench(pg_uri, redis_uri, bucket)
        notes = _server_notes(pg_uri, redis_uri)
        for name in SINKS:
            bench.measure(name, WARMUP_BATCHES * BATCH)
        progress(f"warmed up; {N_RECORDS:,} records over {N_EVENTS} events in batches of {BATCH}")
        rates: dict[str, list[float]] = {name: [] for name in SINKS}
        for rep in range(REPETITIONS):
            for name in _rotated(rep):
                rates[name].append(bench.measure(name))
            progress(
                f"rep {rep + 1}/{REPETITIONS}: "
                + ", ".join(f"{name} {rates[name][-1]:,.0f}/s" for name in SINKS)
            )
    reference = median(rates["fs"])
    figures = []
    for name, target in TARGETS.items():
        ratios = [got / ref for got, ref in zip(rates[name], rates["fs"], strict=True)]
        detail: dict[str, Any] = {
            "records": N_RECORDS,
            "events": N_EVENTS,
            "batch": BATCH,
            "repetitions": REPETITIONS,
            "records_per_s": [round(r) for r in rates[name]],
            "fs_reference_records_per_s": round(reference),
            "fs_records_per_s": [round(r) for r in rates["fs"]],
            "ratio_to_fs": round(median(ratios), 3),  # median of the per-repetition ratios
            **notes[name],
        }
        if name == "s3":
            detail["chunks_per_run"] = bench.s3_chunks
        if name == "fanout":
            detail["lanes_down"] = bench.lanes_down
        figures.append(
            Figure(f"sink_{name}_records_per_s", median(rates[name]), target, "higher", "/s",
                   detail)
        )  # fmt: skip
    return figures
