"""`snuper -t monitor --archive` then `snuper replay`, against the simulators, as a user runs them:
the replay re-derives exactly what the live run wrote, byte for byte the same each time, and any
record leads back to the bytes the book sent."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path
from typing import Any

import orjson

from snuper.archive.segment import SUFFIX, SegmentError, read_segment
from snuper.providers import PROVIDERS
from snuper.sim.options import Faults, SimOptions
from snuper.sim.server import start_sim
from tests.e2e.cli import FROZEN_DAY, FROZEN_SLATE, cli_env, snuper
from tests.e2e.conftest import SimFactory
from tests.e2e.test_draftkings_monitor import BUSY, EXPECTED, scenario


def odds_records(root: Path, provider: str) -> dict[str, list[dict[str, Any]]]:
    """Odds records per event file of a provider (heartbeats left out: a replay makes none)."""
    found = {}
    for path in sorted((root / provider / "odds").glob(f"{FROZEN_SLATE}-*.json")):
        lines = path.read_bytes().splitlines()
        odds = [r for line in lines if (r := orjson.loads(line))["type"] == "odds"]
        if odds:  # a quiet event's file holds heartbeats only
            found[path.name] = odds
    return found


def archived_messages(root: Path) -> int:
    """Messages readable in the archive so far (a segment being written reads up to its end)."""
    total = 0
    for path in (root / "draftkings" / "raw" / "nba").glob(f"*{SUFFIX}"):
        try:
            segment = read_segment(path.name, path.read_bytes())
        except SegmentError:  # created, nothing written yet
            continue
        total += sum(entry.kind == "R" for entry in segment.entries)
    return total


def files(root: Path) -> dict[str, bytes]:
    """Every file under root (the replay's whole output), by relative path."""
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


async def test_every_book_replays_to_exactly_the_live_records(tmp_path: Path) -> None:
    live = tmp_path / "live"
    # Dropped sockets and garbage frames on the websocket books; every book polled or streamed.
    faults = Faults(drop_after=4, malformed_at=6)
    running = await start_sim(SimOptions(seed=5, speed=120, slate_day=FROZEN_DAY, faults=faults))
    try:
        scrape = await snuper("-t", "scrape", "-l", "nba", "-o", str(live), env=running.exports)
        assert scrape.code == 0, scrape.stderr
        monitor = await snuper("-t", "monitor", "-l", "nba", "-o", str(live), "--archive",
                               "--heartbeat", "2", "--max-runtime", "30", env=running.exports,
                               timeout=60)  # fmt: skip
    finally:
        await running.close()
    assert monitor.code == 0, monitor.stderr
    assert monitor.stderr.count("connection lost") >= 2  # both websocket books dropped once
    assert monitor.stderr.count("malformed message") >= 2
    for name in PROVIDERS:
        segments = list((live / name / "raw" / "nba").glob(f"*{SUFFIX}"))
        assert len(segments) == 1, name  # one run, within one hour
        replays = []
        for folder in ("replay1", "replay2"):
            out = tmp_path / folder / name
            run = await snuper("replay", "-p", name, "-l", "nba", "--from", str(live),
                               "-o", str(out))  # fmt: skip
            assert run.code == 0, run.stderr
            assert f"replayed slate {FROZEN_SLATE}" in run.stderr
            replays.append(out)
        expected = odds_records(live, name)
        assert sum(map(len, expected.values())) >= 3, f"{name}: too few moves to compare"
        assert odds_records(replays[0], name) == expected, name
        assert files(replays[0]) == files(replays[1]), name
        # Every live record names its message, in the one segment of this run.
        refs = [r["raw_ref"] for records in expected.values() for r in records]
        assert all(ref.startswith(segments[0].name.removesuffix(SUFFIX) + "#") for ref in refs)


async def test_a_record_is_audited_back_to_the_bytes_the_book_sent(
    tmp_path: Path, dk_sim: SimFactory
) -> None:
    options = SimOptions(speed=10, faults=Faults(drop_after=3, malformed_at=6))
    out = str(tmp_path)
    async with dk_sim(options, {"nba": scenario()}) as (running, _):
        scrape = await snuper("-t", "scrape", "-p", "draftkings", "-l", "nba", "-o", out,
                              env=running.exports)  # fmt: skip
        assert scrape.code == 0, scrape.stderr
        monitor = await snuper("-t", "monitor", "-p", "draftkings", "-l", "nba", "-o", out,
                               "--archive", "-i", "0.2", "--max-runtime", "60",
                               env=running.exports, timeout=90)  # fmt: skip
    assert monitor.code == 0, monitor.stderr
    path = tmp_path / "draftkings" / "odds" / f"{FROZEN_SLATE}-nba-{BUSY}.json"
    records = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    odds = [r for r in records if r["type"] == "odds"]
    assert [r["selection_id"] for r in odds] == [e[0] for e in EXPECTED]
    line_move = odds[2]  # the spread moved: its new selection id replaces the old one
    shown = await snuper("replay", "-p", "draftkings", "-l", "nba", "--from", out,
                         "--show", line_move["raw_ref"])  # fmt: skip
    assert shown.code == 0, shown.stderr
    message = orjson.loads(shown.stdout)
    assert message["received_at"][:23] == line_move["received_at"][:23]
    quotes = {q["selection_id"]: q for q in message["parsed"]["items"] if q["item"] == "Quote"}
    quote = quotes[line_move["selection_id"]]
    assert (quote["odds_american"], quote["line"]) == (
        line_move["odds_american"],
        line_move["line"],
    )
    # The bytes shown are the archived frame, exactly as the socket delivered it.
    name, index = line_move["raw_ref"].split("#")
    segment_file = tmp_path / "draftkings" / "raw" / "nba" / f"{name}{SUFFIX}"
    entry = read_segment(name, segment_file.read_bytes()).entries[int(index) - 1]
    assert entry.index == int(index) and entry.kind == "R"
    assert bytes.fromhex(message["hex"]) == entry.payload


async def test_a_killed_monitor_leaves_a_segment_replay_reads_up_to_its_last_message(
    tmp_path: Path, dk_sim: SimFactory
) -> None:
    live, out = tmp_path / "live", tmp_path / "replay"
    async with dk_sim(SimOptions(speed=10), {"nba": scenario()}) as (running, _):
        scrape = await snuper("-t", "scrape", "-p", "draftkings", "-l", "nba", "-o", str(live),
                              env=running.exports)  # fmt: skip
        assert scrape.code == 0, scrape.stderr
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "snuper", "-t", "monitor", "-p", "draftkings", "-l", "nba",
            "-o", str(live), "--archive", env=cli_env(running.exports),
            stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        path = live / "draftkings" / "odds" / f"{FROZEN_SLATE}-nba-{BUSY}.json"
        for _ in range(300):  # at most 30 s: until four moves are written, and archived
            written = path.exists() and path.read_bytes().count(b'"type":"odds"') >= 4
            if written and archived_messages(live) >= 6:  # ack, initial data, 4 more frames
                break
            await asyncio.sleep(0.1)
        process.send_signal(signal.SIGKILL)
        await process.wait()
    replay = await snuper("replay", "-p", "draftkings", "-l", "nba", "--from", str(live),
                          "-o", str(out))  # fmt: skip
    assert replay.code == 0, replay.stderr
    assert "read up to its last whole message" in replay.stderr
    assert "the segment was not closed" in replay.stderr
    live_odds = odds_records(live, "draftkings")
    replayed = odds_records(out, "draftkings")
    name = f"{FROZEN_SLATE}-nba-{BUSY}.json"
    assert len(replayed[name]) >= 4
    # At most the open segment's tail is missing: the replay is the live run's beginning.
    for event, records in replayed.items():
        assert records == live_odds[event][: len(records)]
