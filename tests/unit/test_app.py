"""The service layer: typed scrape outcomes, the slate computed once from the injected clock,
their exit statuses, a stopped scrape that keeps what it saved, and a monitor run that skips an
unreadable league and watches the rest."""

import asyncio
import itertools
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from snuper import app
from snuper.cli import interrupted_line, monitor_exit_status, scrape_exit_status
from snuper.config import MonitorSettings, Settings
from snuper.feed import Feed, Message, PollTransport
from snuper.model import Record, Snapshot
from snuper.providers.base import (
    FeedFactory,
    Provider,
    ScrapeContext,
    ScrapeFailure,
    ScrapeFn,
    ScrapeResults,
    SimHooks,
)
from snuper.sinks.base import SinkError
from snuper.sinks.fs import FsSink
from tests.factories import event, snapshot
from tests.unit.test_runner import script_parser


def fake_provider(
    answers: Mapping[str, Snapshot | ScrapeFailure] | None = None,
    seen: list[ScrapeContext] | None = None,
    feed: FeedFactory | None = None,
    *,
    hang_at: str | None = None,
    hanging: asyncio.Event | None = None,
    trace: list[str] | None = None,
) -> Provider:
    """A book answering `answers` per league; at `hang_at` it sets `hanging` and blocks until
    cancelled (a page that never loads). `trace` gets what happened to the scrape: each league
    reached, and how the scrape ended ('cancelled at LEAGUE', 'closed')."""
    trace = [] if trace is None else trace

    async def scrape(ctx: ScrapeContext, leagues: Sequence[str]) -> ScrapeResults:
        if seen is not None:
            seen.append(ctx)
        try:
            for league in leagues:
                trace.append(league)
                if league == hang_at:
                    if hanging is not None:
                        hanging.set()
                    try:
                        await asyncio.Future()  # never answers
                    except asyncio.CancelledError:
                        trace.append(f"cancelled at {league}")
                        raise
                yield (answers or {})[league]
        finally:
            trace.append("closed")  # where the real scrape closes its browser

    def load_scrape() -> ScrapeFn:
        return scrape

    def load_feed() -> FeedFactory:
        assert feed is not None
        return feed

    def load_sim() -> SimHooks:
        raise AssertionError("not used")

    return Provider("draftkings", ("nba", "nfl", "mlb"), {}, {}, load_scrape, load_feed, load_sim)


@pytest.mark.parametrize(
    ("now", "slate"),
    [
        (datetime(2026, 11, 1, 4, 30, tzinfo=UTC), "20261101"),  # 00:30 EDT, DST ends that night
        (datetime(2026, 3, 8, 4, 59, tzinfo=UTC), "20260307"),  # 23:59 EST the night before
        (datetime(2027, 6, 15, 3, 55, tzinfo=UTC), "20270614"),  # UTC is a day ahead of New York
    ],
)
async def test_the_slate_comes_once_from_the_injected_clock(
    tmp_path: Path, now: datetime, slate: str
) -> None:
    seen: list[ScrapeContext] = []
    games = snapshot(event(start=now + timedelta(hours=2)), slate=slate)
    provider = fake_provider({"nba": games, "nfl": games}, seen)
    outcomes = await app.scrape([provider], ["nba", "nfl"], FsSink(tmp_path), Settings(),
                                now=lambda: now)  # fmt: skip
    assert [ctx.slate for ctx in seen] == [slate]
    assert seen[0].now() == now
    assert {o.slate for o in outcomes} == {slate}


async def test_each_league_gets_a_typed_outcome_and_the_worst_sets_the_exit_status(
    tmp_path: Path,
) -> None:
    now = datetime(2026, 12, 2, 15, tzinfo=UTC)
    games = snapshot(event(start=now + timedelta(hours=9)))
    no_games = Snapshot("draftkings", "nfl", games.slate_date, now, ())
    answers: dict[str, Snapshot | ScrapeFailure] = {
        "nba": games,
        "nfl": no_games,
        "mlb": ScrapeFailure("mlb", "blocked", "https://x/api answered HTTP 403 after 4 attempts"),
    }
    sink = FsSink(tmp_path)
    run = app.scrape([fake_provider(answers)], ["nba", "nfl", "mlb"], sink, Settings(),
                     now=lambda: now)  # fmt: skip
    outcomes = await run
    by_league = {o.league: o for o in outcomes}
    assert by_league["nba"].status == app.Status.WRITTEN
    assert (by_league["nba"].events, by_league["nba"].selections) == (1, 6)
    assert by_league["nfl"].status == app.Status.NO_GAMES
    assert by_league["mlb"].status == app.Status.BLOCKED and "403" in by_league["mlb"].reason
    assert scrape_exit_status(outcomes) == 4  # blocked outranks no games

    again = await app.scrape([fake_provider(answers)], ["nba"], sink, Settings(), now=lambda: now)
    assert [o.status for o in again] == [app.Status.KEPT]
    assert scrape_exit_status(again) == 0


@pytest.mark.parametrize(
    ("statuses", "code"),
    [
        ([app.Status.WRITTEN, app.Status.KEPT], 0),
        ([app.Status.WRITTEN, app.Status.NO_GAMES], 3),
        ([app.Status.NO_GAMES, app.Status.BLOCKED], 4),
        ([app.Status.BLOCKED, app.Status.UNPARSEABLE], 5),
        ([app.Status.UNPARSEABLE, app.Status.FAILED, app.Status.WRITTEN], 1),
        ([app.Status.WRITTEN, app.Status.FAILED, app.Status.INTERRUPTED], 130),
    ],
)
def test_exit_status_of_mixed_outcomes(statuses: list[app.Status], code: int) -> None:
    outcomes = [app.ScrapeOutcome("draftkings", "nba", s, "20261201") for s in statuses]
    assert scrape_exit_status(outcomes) == code


async def test_a_stop_mid_scrape_keeps_the_leagues_saved_and_marks_the_rest_interrupted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    now = datetime(2026, 12, 2, 15, tzinfo=UTC)
    games = snapshot(event(start=now + timedelta(hours=9)))
    trace: list[str] = []
    hanging = asyncio.Event()
    provider = fake_provider({"nba": games}, hang_at="nfl", hanging=hanging, trace=trace)
    saved = tmp_path / "draftkings" / "events" / f"{games.slate_date}-nba.json"
    stop = asyncio.Event()
    scraping = asyncio.create_task(app.scrape([provider], ["nba", "nfl", "mlb"], FsSink(tmp_path),
                                              Settings(), now=lambda: now, stop=stop))  # fmt: skip
    await asyncio.wait_for(hanging.wait(), 5)
    assert trace == ["nba", "nfl"]
    assert Snapshot.from_json(saved.read_bytes()) == games  # saved before the next league began
    stop.set()
    outcomes = await asyncio.wait_for(scraping, 5)

    assert [(o.league, o.status, o.reason) for o in outcomes] == [
        ("nba", app.Status.WRITTEN, ""),
        ("nfl", app.Status.INTERRUPTED, "abandoned mid-scrape"),
        ("mlb", app.Status.INTERRUPTED, "not started"),
    ]
    assert trace == ["nba", "nfl", "cancelled at nfl", "closed"]  # mlb never started
    [abandoned] = [r.getMessage() for r in caplog.records if "abandoned" in r.getMessage()]
    assert abandoned.startswith("draftkings nfl: abandoned mid-scrape")
    assert scrape_exit_status(outcomes) == 130
    assert interrupted_line(outcomes) == (
        "interrupted: saved draftkings nba; not scraped: "
        "draftkings nfl (abandoned mid-scrape), draftkings mlb (not started)"
    )


async def test_a_stop_before_the_scrape_starts_nothing(tmp_path: Path) -> None:
    seen: list[ScrapeContext] = []
    stop = asyncio.Event()
    stop.set()
    outcomes = await app.scrape([fake_provider(seen=seen)], ["nba", "mlb"], FsSink(tmp_path),
                                Settings(), stop=stop)  # fmt: skip
    assert not seen and not list(tmp_path.iterdir())
    assert [(o.league, o.status, o.reason) for o in outcomes] == [
        ("nba", app.Status.INTERRUPTED, "not started"),
        ("mlb", app.Status.INTERRUPTED, "not started"),
    ]
    assert interrupted_line(outcomes).startswith("interrupted: saved nothing; not scraped: ")


async def test_a_scrape_that_ends_closes_the_provider(tmp_path: Path) -> None:
    now = datetime(2026, 12, 2, 15, tzinfo=UTC)
    games = snapshot(event(start=now + timedelta(hours=9)))
    trace: list[str] = []
    outcomes = await app.scrape([fake_provider({"nba": games}, trace=trace)], ["nba"],
                                FsSink(tmp_path), Settings(), now=lambda: now)  # fmt: skip
    assert trace == ["nba", "closed"]
    assert [o.status for o in outcomes] == [app.Status.WRITTEN]
    assert scrape_exit_status(outcomes) == 0


async def test_monitor_skips_an_unreadable_league_and_watches_the_others(tmp_path: Path) -> None:
    now = datetime(2026, 12, 2, 1, tzinfo=UTC)
    sink = FsSink(tmp_path)
    good = snapshot(event(start=now - timedelta(minutes=30)))
    assert sink.save_snapshot(good)
    broken = tmp_path / "draftkings" / "events" / f"{good.slate_date}-nfl.json"
    broken.write_bytes(b'{"schema": 1, "provi')  # a scrape killed mid-write (or a bad disk)

    def feed(endpoints: Mapping[str, str], settings: Settings, snap: Snapshot) -> Feed:
        async def fetch() -> Sequence[Message]:
            return [b'{"quotes": [["0ML500_1", -170, 1.588]], "over": ["101"]}']

        return Feed(PollTransport(fetch, 0.01), script_parser)

    settings = Settings(monitor=MonitorSettings(interval=0.05, receive_timeout=0.1))
    run = await app.monitor([fake_provider(feed=feed)], ["nba", "nfl", "mlb"], sink, settings,
                            asyncio.Event(), now=lambda: now)  # fmt: skip
    assert [(r.league, r.stopped, r.updates) for r in run.results] == [("nba", "events over", 1)]
    [unreadable, missing] = run.skipped
    assert unreadable.startswith("draftkings nfl: skipped: cannot read snapshot")
    assert str(broken) in unreadable and "\n" not in unreadable
    assert "draftkings mlb: no snapshot" in missing
    assert run.ok


async def test_one_deadline_covers_the_whole_shutdown_of_a_hung_sink(tmp_path: Path) -> None:
    now = datetime(2026, 12, 2, 1, tzinfo=UTC)
    release = threading.Event()

    class HangingSink(FsSink):
        def write_updates(self, records: Sequence[Record]) -> None:
            release.wait()  # a database that stopped answering

    sink = HangingSink(tmp_path)
    assert sink.save_snapshot(snapshot(event(start=now - timedelta(minutes=30))))
    handled = asyncio.Event()
    prices = itertools.count(-111, -1)

    def feed(endpoints: Mapping[str, str], settings: Settings, snap: Snapshot) -> Feed:
        async def fetch() -> Sequence[Message]:
            handled.set()
            return [f'{{"quotes": [["0ML500_1", {next(prices)}, 1.5]]}}'.encode()]

        return Feed(PollTransport(fetch, 0.01), script_parser)

    deadline = 1.0
    settings = Settings(monitor=MonitorSettings(interval=0.05, receive_timeout=0.1,
                                                shutdown_deadline=deadline))  # fmt: skip
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    try:
        task = asyncio.create_task(app.monitor([fake_provider(feed=feed)], ["nba"], sink,
                                               settings, stop, now=lambda: now))  # fmt: skip
        await asyncio.wait_for(handled.wait(), 5)
        stop.set()
        stopped_at = loop.time()
        run = await asyncio.wait_for(task, 5)
        took = loop.time() - stopped_at
    finally:
        release.set()
    # The deadline, then at most a moment to close: not a second deadline for the close.
    assert took < deadline + 0.7
    [result] = run.results
    assert result.lost == result.updates > 0
    assert monitor_exit_status(run) == 6


async def test_records_the_closing_flush_makes_durable_are_not_counted_lost(
    tmp_path: Path,
) -> None:
    now = datetime(2026, 12, 2, 1, tzinfo=UTC)

    class FlushFailsUntilClose(FsSink):
        def flush(self, *, final: bool = False) -> None:
            raise SinkError(f"cannot flush {self.root}: Input/output error")

    sink = FlushFailsUntilClose(tmp_path)  # close() fsyncs on its own, and succeeds
    assert sink.save_snapshot(snapshot(event(start=now - timedelta(minutes=30))))
    answers = [b'{"quotes": [["0ML500_1", -170, 1.588]], "over": ["101"]}']

    def feed(endpoints: Mapping[str, str], settings: Settings, snap: Snapshot) -> Feed:
        async def fetch() -> Sequence[Message]:
            return [answers.pop()] if answers else []

        return Feed(PollTransport(fetch, 0.01), script_parser)

    settings = Settings(monitor=MonitorSettings(interval=0.05, receive_timeout=0.1,
                                                shutdown_deadline=0.5))  # fmt: skip
    run = await app.monitor([fake_provider(feed=feed)], ["nba"], sink, settings,
                            asyncio.Event(), now=lambda: now)  # fmt: skip
    [result] = run.results
    assert (result.stopped, result.updates, result.lost) == ("events over", 1, 0)
    assert monitor_exit_status(run) == 0
    odds = tmp_path / "draftkings" / "odds" / f"{result_slate(now)}-nba-101.json"
    assert len(odds.read_bytes().splitlines()) == 1


def result_slate(now: datetime) -> str:
    return snapshot(event(start=now - timedelta(minutes=30))).slate_date


async def test_monitor_watches_the_snapshot_of_the_slate_asked_for(tmp_path: Path) -> None:
    now = datetime(2026, 12, 2, 1, tzinfo=UTC)
    sink = FsSink(tmp_path)
    earlier = snapshot(event("101", "500", start=now - timedelta(days=1, minutes=30)))
    today = snapshot(event("202", "600", start=now - timedelta(minutes=30)))
    assert sink.save_snapshot(earlier) and sink.save_snapshot(today)
    watched: list[str] = []

    def feed(endpoints: Mapping[str, str], settings: Settings, snap: Snapshot) -> Feed:
        watched.extend(e.event_id for e in snap.events)

        async def fetch() -> Sequence[Message]:
            return [orjson.dumps({"quotes": [], "over": [e.event_id for e in snap.events]})]

        return Feed(PollTransport(fetch, 0.01), script_parser)

    settings = Settings(monitor=MonitorSettings(interval=0.05, receive_timeout=0.1))
    await app.monitor([fake_provider(feed=feed)], ["nba"], sink, settings, asyncio.Event(),
                      now=lambda: now, slate=earlier.slate_date)  # fmt: skip
    await app.monitor([fake_provider(feed=feed)], ["nba"], FsSink(tmp_path), settings,
                      asyncio.Event(), now=lambda: now)  # fmt: skip
    assert watched == ["101", "202"]  # the slate asked for, then today's by default
