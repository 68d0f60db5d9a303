"""Blocked, empty and broken told apart for every book scraped against its simulator (the same
three runs, one exit status each; DraftKings' own cases are in test_scrape_outcomes.py)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from snuper.providers import PROVIDERS
from snuper.sim.options import Faults, SimOptions
from snuper.sim.server import start_sim
from tests.e2e.cli import FROZEN_DAY, Run, snuper


async def _scrape(book: str, options: SimOptions, out: Path) -> Run:
    running = await start_sim(options, providers=[PROVIDERS[book]])
    try:
        return await snuper("-t", "scrape", "-p", book, "-l", "nba", "-o", str(out),
                            env=running.exports)  # fmt: skip
    finally:
        await running.close()


# book -> what the "unparseable" line names: the part of the answer that did not read
@pytest.mark.parametrize(
    ("book", "unreadable_part"),
    [("betmgm", "fixtures"), ("bovada", "coupon"), ("fanduel", "attachments.events")],
)
async def test_blocked_empty_and_broken_are_told_apart(
    tmp_path: Path, book: str, unreadable_part: str
) -> None:
    blocked = await _scrape(book, SimOptions(seed=5, slate_day=FROZEN_DAY,
                            faults=Faults(http_status=403, http_failures=100)),
                            tmp_path / "a")  # fmt: skip
    # The simulator's games are all tomorrow: today's slate is empty.
    empty = await _scrape(book, SimOptions(seed=5, slate_day=FROZEN_DAY + timedelta(days=1)),
                          tmp_path / "b")  # fmt: skip
    broken = await _scrape(book, SimOptions(seed=5, slate_day=FROZEN_DAY,
                           faults=Faults(unreadable_api=True)), tmp_path / "c")  # fmt: skip
    assert blocked.code == 4, blocked.stderr
    [error] = [line for line in blocked.stderr.splitlines() if " ERROR " in line]
    assert f"{book} nba: blocked" in error and "403" in error
    assert empty.code == 3, empty.stderr
    assert "no games on slate" in empty.stderr and "blocked" not in empty.stderr
    assert broken.code == 5, broken.stderr
    [error] = [line for line in broken.stderr.splitlines() if " ERROR " in line]
    assert f"{book} nba: unparseable: " in error and unreadable_part in error
    assert not list(tmp_path.glob(f"*/{book}/events/*.json"))
    assert all("Traceback" not in r.stderr for r in (blocked, empty, broken))
