"""The Fargate entrypoint (functions/monitor/main.py) run as ECS runs it: a process configured by
the state machine's overrides (SNUPER_MONITOR_*) and the task definition's sink variables, after
the ScrapeFunction wrote the snapshot into rds, cache and s3."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from snuper.sim.options import SimOptions
from tests.cloud.conftest import DK_NBA, PREFIX, ROOT, TABLE, Cloud, Handlers, invoke, simulators
from tests.e2e.cli import FROZEN_SLATE, snuper
from tests.e2e.records import read_odds
from tests.e2e.test_draftkings_monitor import BUSY, EXPECTED, QUIET, scenario
from tests.e2e.test_sinks import odds_moves, read_back

SINKS = ("rds", "cache", "s3")
ENTRYPOINT = ROOT / "functions" / "monitor" / "main.py"


def overrides(**extra: str) -> dict[str, str]:
    """What the state machine passes for a job of the plan, plus a quicker cadence."""
    return {
        "SNUPER_MONITOR_PROVIDER": "draftkings",
        "SNUPER_MONITOR_LEAGUE": "nba",
        "SNUPER_MONITOR_SLATE": FROZEN_SLATE,
        "SNUPER_MONITOR_STOP_AFTER": "60",
        "SNUPER_MONITOR_HEARTBEAT": "1",
        "SNUPER_MONITOR_INTERVAL": "0.2",
        **extra,
    }


async def start_task(env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, str(ENTRYPOINT), cwd=ROOT, env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


def json_lines(out: bytes) -> list[dict[str, Any]]:
    """Every stdout line is JSON: the log lines and the EMF metrics."""
    return [orjson.loads(line) for line in out.splitlines() if line.strip()]


def finished(lines: list[dict[str, Any]]) -> dict[str, Any]:
    [last] = [line for line in lines if line.get("message") == "monitor finished"]
    assert lines[-1] is last
    return last


def sink_flags(cloud: Cloud) -> list[str]:
    """`snuper read` flags reaching the same sinks as the task."""
    return ["--sink", ",".join(SINKS), "--rds-uri", cloud.pg_uri, "--rds-table", TABLE,
            "--cache-uri", cloud.redis_uri, "--s3-bucket", cloud.s3.bucket,
            "--s3-prefix", PREFIX]  # fmt: skip


async def stored(cloud: Cloud, sink: str, event_id: str) -> list[dict[str, Any]]:
    return await read_back(sink, sink_flags(cloud), cloud.s3.env, event_id)


async def test_the_task_writes_the_scenario_into_every_sink(
    monkeypatch: pytest.MonkeyPatch, cloud: Cloud, handlers: Handlers, tmp_path: Path
) -> None:
    async with simulators(monkeypatch, SimOptions(speed=10), {"nba": scenario()}):
        scraped = await invoke(handlers.scrape, DK_NBA, "ScrapeFunction")
        assert scraped["failed"] == []
        task = await start_task(overrides(SNUPER_ARCHIVE="1"))
        out, err = await asyncio.wait_for(task.communicate(), 90)
    assert task.returncode == 0, err.decode()
    assert err == b""  # everything is a JSON line on stdout
    lines = json_lines(out)
    assert any("stopped (events over)" in str(line.get("message")) for line in lines)
    last = finished(lines)
    assert last["exit_status"] == 0 and last["lost"] == 0
    assert last["updates"] >= len(EXPECTED)
    metrics = [line for line in lines if "_aws" in line]
    assert [m["UpdatesWritten"] for m in metrics] == [[float(last["updates"])]]
    for sink in SINKS:
        assert odds_moves(await stored(cloud, sink, BUSY)) == EXPECTED, sink
        quiet = await stored(cloud, sink, QUIET)
        assert quiet and {r["type"] for r in quiet} == {"heartbeat"}, sink
    # The task archived every message in the bucket: a replay from it gives the same records.
    source = f"s3://{cloud.s3.bucket}/{PREFIX}"
    again = await snuper("replay", "-p", "draftkings", "-l", "nba", "--from", source,
                         *sink_flags(cloud), env=cloud.s3.env)  # fmt: skip
    assert again.code == 2 and "where the replay reads from" in again.stderr
    replayed = await snuper("replay", "-p", "draftkings", "-l", "nba", "--from", source,
                            "--sink", "fs", "-o", str(tmp_path), env=cloud.s3.env)  # fmt: skip
    assert replayed.code == 0, replayed.stderr
    live = [r for r in await stored(cloud, "rds", BUSY) if r["type"] == "odds"]
    assert read_odds(tmp_path, "draftkings", "nba", BUSY) == live
    for sink in SINKS:  # every sink keeps where each record's message is archived
        refs = [r["raw_ref"] for r in await stored(cloud, sink, BUSY) if r["type"] == "odds"]
        assert refs == [r["raw_ref"] for r in live] and all(refs), sink


async def test_sigterm_mid_stream_exits_zero_with_every_received_update_stored(
    monkeypatch: pytest.MonkeyPatch, cloud: Cloud, handlers: Handlers
) -> None:
    # Slow enough that the stop comes mid-scenario: the moves arrive over 4 s, the end at 15 s.
    async with simulators(monkeypatch, SimOptions(speed=2), {"nba": scenario()}):
        await invoke(handlers.scrape, DK_NBA, "ScrapeFunction")
        task = await start_task(overrides())
        key = f"snuper:nba:{BUSY}:selection"
        with cloud.redis() as client:
            for _ in range(300):  # at most 30 s
                if client.llen(key) >= 3:
                    break
                await asyncio.sleep(0.1)
            else:
                pytest.fail("the task stored no update within 30 s")
        task.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        out, err = await asyncio.wait_for(task.communicate(), 60)
    assert task.returncode == 0, err.decode()
    assert time.monotonic() - signalled < 20  # the shutdown deadline, below ECS's 30 s
    lines = json_lines(out)
    assert any("stopped (signal)" in str(line.get("message")) for line in lines)
    last = finished(lines)
    assert last["exit_status"] == 0 and last["lost"] == 0
    received = last["updates"]
    assert received >= 3
    # Every update the task received is in every sink (s3 only had it buffered: its chunk
    # was written by the final flush), once.
    for sink in SINKS:
        records = await stored(cloud, sink, BUSY) + await stored(cloud, sink, QUIET)
        assert sum(r["type"] == "odds" for r in records) == received, sink
    [(rows,)] = cloud.rows(f"SELECT count(*) FROM {TABLE} WHERE kind = 'odds'")
    assert rows == received
    moves = odds_moves(await stored(cloud, "rds", BUSY))
    assert moves == EXPECTED[: len(moves)]  # in order, none twice


async def test_a_bad_override_is_one_clear_line_and_exit_2(lambda_env: dict[str, str]) -> None:
    task = await start_task({**lambda_env, **overrides(SNUPER_MONITOR_LEAGUE="nhl")})
    out, err = await asyncio.wait_for(task.communicate(), 30)
    assert task.returncode == 2, err.decode()
    lines = json_lines(out)
    [error] = [line for line in lines if line["level"] == "ERROR"]
    assert error["message"] == (
        "cannot start the monitor: environment variable SNUPER_MONITOR_LEAGUE: "
        "unknown league 'nhl' (choose from nba, nfl, mlb)"
    )
    assert finished(lines)["exit_status"] == 2
