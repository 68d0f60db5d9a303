"""Each sink alone, and all four at once: the CLI scrapes into it, a monitor bootstraps from it
(no fs folder to fall back on), and `snuper read` gives back the scenario's updates, once each, in
order, from every sink."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from snuper.sim.options import SimOptions
from tests.e2e.cli import FROZEN_SLATE, snuper
from tests.e2e.conftest import SimFactory
from tests.e2e.test_draftkings_monitor import BUSY, EXPECTED, QUIET, scenario
from tests.services import S3Place


def sink_flags(names: str, pg_uri: str, redis_uri: str, s3: S3Place, out: Path) -> list[str]:
    flags = ["--sink", names]
    if "rds" in names:
        flags += ["--rds-uri", pg_uri, "--rds-table", "odds_e2e"]
    if "cache" in names:
        flags += ["--cache-uri", redis_uri, "--cache-ttl", "600", "--cache-max-items", "500"]
    if "s3" in names:
        flags += ["--s3-bucket", s3.bucket, "--s3-prefix", "e2e/run"]
    # fs needs its folder; the others use it only for spill files (staging).
    return [*flags, "-o", str(out)]


async def read_back(sink: str, flags: list[str], env: dict[str, str], event_id: str) -> list[Any]:
    only = [*flags]
    only[only.index("--sink") + 1] = sink
    run = await snuper("read", "-p", "draftkings", "-l", "nba", "--slate", FROZEN_SLATE,
                       "--event", event_id, *only, env=env)  # fmt: skip
    assert run.code == 0, run.stderr
    return [orjson.loads(line) for line in run.stdout.splitlines()]


def odds_moves(records: list[Any]) -> list[tuple[Any, ...]]:
    return [
        (r["selection_id"], r["line"], r["odds_american"], prev["line"], prev["odds_american"])
        for r in records
        if r["type"] == "odds" and isinstance(prev := r["previous"], dict)
    ]


@pytest.mark.parametrize("names", ["rds", "cache", "s3", "rds,cache,s3,fs"])
async def test_scrape_then_monitor_into_the_sink_and_read_back(
    names: str,
    tmp_path: Path,
    dk_sim: SimFactory,
    pg_uri: str,
    redis_uri: str,
    s3_place: S3Place,
) -> None:
    out = tmp_path / "out"
    flags = sink_flags(names, pg_uri, redis_uri, s3_place, out)
    async with dk_sim(SimOptions(speed=10), {"nba": scenario()}) as (running, _):
        env = {**running.exports, **s3_place.env}
        scrape = await snuper("-t", "scrape", "-p", "draftkings", "-l", "nba", *flags, env=env)
        assert scrape.code == 0, scrape.stderr
        monitor = await snuper("-t", "monitor", "-p", "draftkings", "-l", "nba", *flags,
                               "--heartbeat", "1", "-i", "0.2", "--max-runtime", "60",
                               env=env, timeout=90)  # fmt: skip
    assert monitor.code == 0, monitor.stderr
    assert "stopped (events over)" in monitor.stderr
    first = names.split(",")[0]
    if "," in names:  # the snapshot came from the first sink in the list
        assert f"snapshot of slate {FROZEN_SLATE} from sink {first}" in monitor.stderr
    for sink in names.split(","):
        busy = await read_back(sink, flags, env, BUSY)
        assert odds_moves(busy) == EXPECTED, sink
        quiet = await read_back(sink, flags, env, QUIET)
        assert quiet and {r["type"] for r in quiet} == {"heartbeat"}, sink
