"""Property (issue 6): however a monitor is stopped and restarted along a scenario, the records
on disk are the fault-free run's, each once, with the same `previous` chain.

Each run is what a killed monitor leaves once nothing was in flight (with records in flight a
restart writes the book's current price instead of each missed step: the chain stays right,
the steps in between are the book's to replay, not ours). Runs are in-process; the CLI's kill -9
and restart is tests/e2e/test_restart.py.
"""

from __future__ import annotations

import asyncio
import itertools
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snuper.config import MonitorSettings
from snuper.feed import Feed, Message, PollTransport
from snuper.odds import american_to_decimal
from snuper.runner import MonitorEngine
from snuper.sinks.fs import FsSink
from tests.factories import event, snapshot
from tests.unit.test_runner import script_parser

NOW = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # the hour that happens twice in New York
SNAP = snapshot(
    event("101", "500", start=NOW - timedelta(minutes=30)),
    event("102", "600", start=NOW - timedelta(minutes=10)),
)
SELECTIONS = [s.selection_id for e in SNAP.events for s in e.selections]
PRICES = (-200, -150, -120, -110, 100, 120, 150, 200)
SETTINGS = MonitorSettings(interval=0.05, heartbeat_s=3600, receive_timeout=0.05)

Change = tuple[int, int]  # (selection index, american price)


def quote(selection: str, american: int) -> list[Any]:
    return [selection, american, american_to_decimal(american)]


async def run_segment(root: Path, book: dict[str, int], changes: Sequence[Change]) -> None:
    """One monitor run: connect (the book's current state first, as initial data does), take
    `changes`, stop once all were handled. `book` is the book's state, updated as it moves."""
    state = [quote(sid, american) for sid, american in book.items()]
    messages = [orjson.dumps({"quotes": state})]
    for index, american in changes:
        book[SELECTIONS[index]] = american
        messages.append(orjson.dumps({"quotes": [quote(SELECTIONS[index], american)]}))
    stop = asyncio.Event()

    async def fetch() -> Sequence[Message]:
        if messages:
            return [messages.pop(0)]
        stop.set()  # everything handled (the engine asks again only after handling)
        return []

    sink = FsSink(root)
    resume = sink.last_prices(SNAP)
    feed = Feed(PollTransport(fetch, interval=0.0), script_parser)
    engine = MonitorEngine(SNAP, feed, sink, SETTINGS, stop, now=lambda: NOW, resume=resume)
    result = await engine.run()
    sink.close()
    assert result.ok


def records(root: Path) -> list[tuple[Any, ...]]:
    rows = []
    for event_id in ("101", "102"):
        path = root / "draftkings" / "odds" / f"{SNAP.slate_date}-nba-{event_id}.json"
        if path.exists():
            rows += [orjson.loads(line) for line in path.read_bytes().splitlines()]
    return [(r["event_id"], r["selection_id"], r["odds_american"], r["previous"]["odds_american"])
            for r in rows if r["type"] == "odds"]  # fmt: skip


def run(changes: list[Change], cuts: list[int]) -> list[tuple[Any, ...]]:
    with tempfile.TemporaryDirectory() as folder:
        book = {s.selection_id: s.odds_american for e in SNAP.events for s in e.selections}
        bounds = [0, *sorted(set(cuts)), len(changes)]
        for start, end in itertools.pairwise(bounds):
            asyncio.run(run_segment(Path(folder), book, changes[start:end]))
        return records(Path(folder))


changes_strategy = st.lists(
    st.tuples(st.integers(0, len(SELECTIONS) - 1), st.sampled_from(PRICES)), max_size=12
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changes=changes_strategy, cuts=st.lists(st.integers(0, 12), max_size=4))
def test_any_restart_points_give_the_fault_free_records_once(
    changes: list[Change], cuts: list[int]
) -> None:
    cuts = [c for c in cuts if c <= len(changes)]
    assert run(changes, cuts) == run(changes, [])


def test_the_property_can_fail_without_resume(monkeypatch: pytest.MonkeyPatch) -> None:
    # The same check with a monitor that forgets what it recorded: the restart writes again.
    changes: list[Change] = [(0, -170), (1, 150)]
    baseline = run(changes, [])
    monkeypatch.setattr(FsSink, "last_prices", lambda self, snap: [])
    assert run(changes, [1]) != baseline
