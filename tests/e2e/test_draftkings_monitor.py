"""`snuper -t monitor` against the DraftKings simulator: a hand-written scenario with known price
moves, one line move, one dropped connection and one malformed frame."""

from __future__ import annotations

import asyncio
import signal
import sys
from datetime import datetime, time
from pathlib import Path
from typing import Any

import orjson

from snuper.providers.draftkings.sim import (
    Scenario,
    SimEvent,
    SimMarket,
    SimSelection,
    Step,
    selection_id,
)
from snuper.sim.options import Faults, SimOptions
from snuper.slate import SLATE_ZONE
from tests.e2e.cli import FROZEN_DAY, FROZEN_SLATE, cli_env, snuper
from tests.e2e.conftest import SimFactory

BUSY, QUIET = "7001", "7002"


def game(
    event_id: str, num: str, home: str, away: str, hour: int
) -> tuple[SimEvent, list[SimMarket], list[SimSelection]]:
    start = datetime.combine(FROZEN_DAY, time(hour, 0), SLATE_ZONE)
    event = SimEvent(event_id, f"BOS {home}", f"NY {away}", "BOS", "NY", start)
    ml, hc, ou = f"1_{num}", f"2_{num}", f"3_{num}"
    markets = [SimMarket(ml, event_id, "moneyline"), SimMarket(hc, event_id, "spread"),
               SimMarket(ou, event_id, "total")]  # fmt: skip
    selections = [
        SimSelection(selection_id(ml, "Home", None), ml, event.home, "Home", -150, None),
        SimSelection(selection_id(ml, "Away", None), ml, event.away, "Away", 130, None),
        SimSelection(selection_id(hc, "Home", -3.5), hc, event.home, "Home", -110, -3.5),
        SimSelection(selection_id(hc, "Away", 3.5), hc, event.away, "Away", -110, 3.5),
        SimSelection(selection_id(ou, "Over", 221.5), ou, "Over", "Over", -105, 221.5),
        SimSelection(selection_id(ou, "Under", 221.5), ou, "Under", "Under", -115, 221.5),
    ]
    return event, markets, selections


def scenario() -> Scenario:
    busy, busy_markets, busy_sels = game(BUSY, "900", "Celtics", "Knicks", 19)
    quiet, quiet_markets, quiet_sels = game(QUIET, "901", "Bruins", "Rangers", 20)
    steps = [
        Step(1, "price", BUSY, "1_900", "Home", american=-160),
        Step(2, "price", BUSY, "3_900", "Over", american=-115),
        Step(3, "line", BUSY, "2_900", "Home", american=-105, points=-4.5),
        Step(4, "price", BUSY, "1_900", "Away", american=140),
        Step(5, "suspend", BUSY, "1_900"),
        Step(6, "resume", BUSY, "1_900"),
        Step(7, "price", BUSY, "1_900", "Home", american=-170),
        Step(8, "price", BUSY, "3_900", "Under", american=100),
        Step(30, "end", BUSY),
        Step(31, "end", QUIET),
    ]
    return Scenario(
        "nba", [busy, quiet], busy_markets + quiet_markets, busy_sels + quiet_sels, steps
    )


# (selection id, line, american, previous line, previous american), in the order they happen
EXPECTED = [
    ("0ML900_1", None, -160, None, -150),
    ("0OU900O22150_1", 221.5, -115, 221.5, -105),
    ("0HC900N450_1", -4.5, -105, -3.5, -110),
    ("0HC900P450_3", 4.5, -110, 3.5, -110),
    ("0ML900_3", None, 140, None, 130),
    ("0ML900_1", None, -170, None, -160),
    ("0OU900U22150_3", 221.5, 100, 221.5, -115),
]


def odds_file(root: Path, event_id: str) -> Path:
    return root / "draftkings" / "odds" / f"{FROZEN_SLATE}-nba-{event_id}.json"


def read(root: Path, event_id: str) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in odds_file(root, event_id).read_bytes().splitlines()]


async def test_monitor_captures_every_move_once_through_faults(
    tmp_path: Path, dk_sim: SimFactory
) -> None:
    # 10 scenario seconds per real second; the socket drops after its 3rd update frame (the
    # initial data and two price moves) and a garbage frame precedes the 6th.
    options = SimOptions(speed=10, faults=Faults(drop_after=3, malformed_at=6))
    out = str(tmp_path)
    async with dk_sim(options, {"nba": scenario()}) as (running, sim):
        scrape = await snuper("-t", "scrape", "-p", "draftkings", "-l", "nba", "-o", out,
                              env=running.exports)  # fmt: skip
        assert scrape.code == 0, scrape.stderr
        monitor = await snuper("-t", "monitor", "-p", "draftkings", "-l", "nba", "-o", out,
                               "--heartbeat", "1", "-i", "0.2", "--max-runtime", "60",
                               env=running.exports, timeout=90)  # fmt: skip
        assert sim.connections == 2
    assert monitor.code == 0, monitor.stderr
    assert "stopped (events over)" in monitor.stderr

    busy = read(tmp_path, BUSY)
    odds = [
        (r["selection_id"], r["line"], r["odds_american"], prev["line"], prev["odds_american"])
        for r in busy
        if r["type"] == "odds" and isinstance(prev := r["previous"], dict)
    ]
    assert odds == EXPECTED
    assert all(r["source_ts"] for r in busy if r["type"] == "odds")

    quiet = read(tmp_path, QUIET)
    assert quiet and {r["type"] for r in quiet} == {"heartbeat"}

    log = monitor.stderr.splitlines()
    malformed = [line for line in log if "malformed message" in line]
    assert len(malformed) == 1 and "WARNING" in malformed[0]
    reconnects = [line for line in log if "connection lost" in line]
    assert len(reconnects) == 1
    assert "Traceback" not in monitor.stderr


async def test_sigterm_flushes_and_exits_zero(tmp_path: Path, dk_sim: SimFactory) -> None:
    out = str(tmp_path)
    async with dk_sim(SimOptions(speed=10), {"nba": scenario()}) as (running, _):
        scrape = await snuper("-t", "scrape", "-p", "draftkings", "-l", "nba", "-o", out,
                              env=running.exports)  # fmt: skip
        assert scrape.code == 0, scrape.stderr
        # -i 30: no periodic flush, so the records can only reach the file by the exit flush.
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "snuper", "-t", "monitor", "-p", "draftkings", "-l", "nba",
            "-o", out, "-i", "30", env=cli_env(running.exports), stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        # The fs sink appends each batch as it comes (fsync waits for a flush): wait until every
        # move is in the file, then stop. -i 30 means no periodic flush happened meanwhile.
        for _ in range(300):  # at most 30 s
            if len(odds_of(read_or_empty(tmp_path, BUSY))) >= len(EXPECTED):
                break
            await asyncio.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, err.decode()
    assert "stopped (signal)" in err.decode()
    assert odds_of(read(tmp_path, BUSY)) == [e[0] for e in EXPECTED]


def odds_of(records: list[dict[str, Any]]) -> list[str]:
    return [r["selection_id"] for r in records if r["type"] == "odds"]


def read_or_empty(root: Path, event_id: str) -> list[dict[str, Any]]:
    return read(root, event_id) if odds_file(root, event_id).exists() else []


async def test_a_monitor_started_after_the_games_ended_stops_at_once(
    tmp_path: Path, dk_sim: SimFactory
) -> None:
    out = str(tmp_path)
    args = ("-t", "monitor", "-p", "draftkings", "-l", "nba", "-o", out, "--heartbeat", "1",
            "--max-runtime", "60")  # fmt: skip
    async with dk_sim(SimOptions(speed=20), {"nba": scenario()}) as (running, _):
        scrape = await snuper("-t", "scrape", "-p", "draftkings", "-l", "nba", "-o", out,
                              env=running.exports)  # fmt: skip
        assert scrape.code == 0, scrape.stderr
        first = await snuper(*args, env=running.exports, timeout=90)
        assert "stopped (events over)" in first.stderr, first.stderr
        written = odds_file(tmp_path, BUSY).read_bytes()
        # The book no longer lists the games: a late monitor must not beat for 12 hours.
        late = await snuper(*args, env=running.exports, timeout=90)
    assert late.code == 0, late.stderr
    assert "stopped (events over)" in late.stderr
    assert late.stderr.count("the book no longer lists it") == 2
    assert odds_file(tmp_path, BUSY).read_bytes() == written  # nothing new, nothing doubled
