"""`snuper -t scrape` exit statuses against the DraftKings simulator: a blocked book, an answer the
parser cannot read, a day with no games, an unreadable old snapshot (replaced, and said so)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from snuper.model import Snapshot
from snuper.sim.options import Faults, SimOptions
from tests.e2e.cli import FROZEN_DAY, FROZEN_SLATE, snuper
from tests.e2e.conftest import SimFactory


async def test_a_book_that_keeps_refusing_us_is_blocked(tmp_path: Path, dk_sim: SimFactory) -> None:
    options = SimOptions(seed=5, faults=Faults(http_status=403, http_failures=100))
    async with dk_sim(options) as (running, _):
        run = await snuper("-t", "scrape", "-p", "draftkings", "-l", "nba", "-o", str(tmp_path),
                           env=running.exports)  # fmt: skip
    assert run.code == 4, run.stderr
    [error] = [line for line in run.stderr.splitlines() if " ERROR " in line]
    assert "draftkings nba: blocked" in error and "403" in error
    assert not (tmp_path / "draftkings" / "events").exists()


async def test_an_answer_the_parser_cannot_read_is_unparseable(
    tmp_path: Path, dk_sim: SimFactory
) -> None:
    options = SimOptions(seed=5, faults=Faults(unreadable_api=True))
    async with dk_sim(options) as (running, _):
        run = await snuper("-t", "scrape", "-p", "draftkings", "-l", "nba,mlb", "-o", str(tmp_path),
                           env=running.exports)  # fmt: skip
    assert run.code == 5, run.stderr
    errors = [line for line in run.stderr.splitlines() if " ERROR " in line]
    assert len(errors) == 2 and all(": unparseable: " in line for line in errors)
    assert "Traceback" not in run.stderr


async def test_a_day_without_games_writes_nothing_and_says_so(
    tmp_path: Path, dk_sim: SimFactory
) -> None:
    # The simulator's games are all tomorrow: today's slate is empty.
    options = SimOptions(seed=5, slate_day=FROZEN_DAY + timedelta(days=1))
    async with dk_sim(options) as (running, _):
        run = await snuper("-t", "scrape", "-p", "draftkings", "-l", "nfl", "-o", str(tmp_path),
                           env=running.exports)  # fmt: skip
    assert run.code == 3, run.stderr
    assert "no games on slate" in run.stderr
    assert not list(tmp_path.glob("draftkings/events/*.json"))


async def test_an_unreadable_snapshot_is_moved_aside_and_replaced(
    tmp_path: Path, dk_sim: SimFactory
) -> None:
    events = tmp_path / "draftkings" / "events"
    events.mkdir(parents=True)
    broken = events / f"{FROZEN_SLATE}-mlb.json"
    broken.write_bytes(b'{"schema": 1, "provider": "draftk')  # truncated by a crash
    async with dk_sim(SimOptions(seed=6)) as (running, _):
        run = await snuper("-t", "scrape", "-p", "draftkings", "-l", "mlb", "-o", str(tmp_path),
                           env=running.exports)  # fmt: skip
    assert run.code == 0, run.stderr
    assert Snapshot.from_json(broken.read_bytes()).league == "mlb"
    [aside] = events.glob(f"{broken.name}.unreadable-*")
    assert aside.read_bytes() == b'{"schema": 1, "provider": "draftk'
    assert str(aside) in run.stderr
