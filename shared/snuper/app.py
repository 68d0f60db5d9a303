"""The service layer the CLI and every cloud handler call: scrape and monitor, with typed outcomes.

Nothing here parses flags or picks exit codes (cli.py does), installs signal handlers (the caller
passes a stop event) or reads the clock directly (a `now` callable is passed in).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from snuper.config import Settings
from snuper.model import Snapshot
from snuper.providers import Provider
from snuper.providers.base import ScrapeContext, ScrapeFailure
from snuper.runner import MonitorEngine, MonitorResult
from snuper.sinks.base import Sink, SinkError
from snuper.sinks.worker import SinkWorker
from snuper.slate import today_slate, utc_now

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext

log = logging.getLogger("snuper")


class Status(StrEnum):
    WRITTEN = "written"
    KEPT = "kept"  # today's snapshot was already there (no --overwrite)
    NO_GAMES = "no games"
    BLOCKED = "blocked"  # the book refused us (403/429, a bot-check page)
    UNPARSEABLE = "unparseable"  # the book answered something we cannot read
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ScrapeOutcome:
    provider: str
    league: str
    status: Status
    slate: str
    events: int = 0
    selections: int = 0
    where: str = ""  # where the snapshot is (written or kept)
    reason: str = ""  # why not (blocked, unparseable, failed)


async def scrape(
    providers: Sequence[Provider],
    leagues: Sequence[str],
    sink: Sink,
    settings: Settings,
    *,
    overwrite: bool = False,
    now: Callable[[], datetime] = utc_now,
    browser: BrowserContext | None = None,
) -> list[ScrapeOutcome]:
    """Scrape today's slate of each provider and league into `sink`: one outcome per pair."""
    from snuper.browser import BrowserError  # the scrape path may load Playwright

    slate = today_slate(now())  # once per run: a run that crosses midnight stays on its slate
    outcomes: list[ScrapeOutcome] = []
    for provider in providers:
        wanted = [lg for lg in leagues if lg in provider.leagues]
        if not wanted:
            continue
        log.info("%s: scraping %s for slate %s", provider.name, ", ".join(wanted), slate)
        context = ScrapeContext(provider.endpoints(), settings, slate, now, browser)
        try:
            results = await provider.scrape(context, wanted)
        except BrowserError as exc:
            log.error("%s: scrape failed: %s", provider.name, exc)
            outcomes += [ScrapeOutcome(provider.name, lg, Status.FAILED, slate, reason=str(exc))
                         for lg in wanted]  # fmt: skip
            continue
        for result in results:
            if isinstance(result, ScrapeFailure):
                log.error("%s %s: %s: %s", provider.name, result.league, result.kind, result.reason)
                status = Status(result.kind)
                outcomes.append(
                    ScrapeOutcome(provider.name, result.league, status, slate, reason=result.reason)
                )
            else:
                outcomes.append(save_snapshot(provider.name, result, sink, overwrite))
    return outcomes


def save_snapshot(provider: str, snapshot: Snapshot, sink: Sink, overwrite: bool) -> ScrapeOutcome:
    name = f"{provider} {snapshot.league}"
    slate = snapshot.slate_date
    if not snapshot.events:
        # An empty file would stand in the way of the day's real snapshot later on.
        log.warning("%s: no games on slate %s; nothing written", name, slate)
        return ScrapeOutcome(provider, snapshot.league, Status.NO_GAMES, slate)
    where = sink.describe(snapshot)
    events = len(snapshot.events)
    selections = sum(len(e.selections) for e in snapshot.events)
    try:
        written = sink.save_snapshot(snapshot, overwrite=overwrite)
    except SinkError as exc:
        log.error("%s: %s", name, exc)
        return ScrapeOutcome(provider, snapshot.league, Status.FAILED, slate, reason=str(exc))
    if written:
        log.info("%s: wrote %d events, %d selections to %s", name, events, selections, where)
        status = Status.WRITTEN
    else:
        log.info("%s: kept existing %s (use --overwrite to replace it)", name, where)
        status = Status.KEPT
    return ScrapeOutcome(provider, snapshot.league, status, slate, events, selections, where)


@dataclass(slots=True)
class MonitorRun:
    """What a monitor run did: each league's engine result, and the leagues it could not
    watch (no snapshot, an unreadable one) or whose engine crashed, one line each."""

    results: list[MonitorResult] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    crashed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.results) and not self.crashed and all(r.ok for r in self.results)


async def monitor(
    providers: Sequence[Provider],
    leagues: Sequence[str],
    sink: Sink,
    settings: Settings,
    stop: asyncio.Event,
    *,
    now: Callable[[], datetime] = utc_now,
) -> MonitorRun:
    """Watch the latest snapshot of each provider and league until its events are over, the
    runtime limit, or `stop`. The run owns `sink` and closes it, within the shutdown deadline."""
    run = MonitorRun()
    worker = SinkWorker(sink)
    engines: list[MonitorEngine] = []
    try:
        await _watch(providers, leagues, worker, settings, stop, now, run, engines)
    finally:
        await _close(worker, _left_of_deadline(engines, settings.monitor.shutdown_deadline), run)
        for engine in engines:
            engine.recount_after_close()
    return run


async def _watch(
    providers: Sequence[Provider],
    leagues: Sequence[str],
    worker: SinkWorker,
    settings: Settings,
    stop: asyncio.Event,
    now: Callable[[], datetime],
    run: MonitorRun,
    engines: list[MonitorEngine],
) -> None:
    today = today_slate(now())
    for provider in providers:
        wanted = [lg for lg in leagues if lg in provider.leagues]
        load = functools.partial(worker.sink.load_snapshots, provider.name, wanted)
        loaded = await worker.call(load)
        found = {s.league for s in loaded.snapshots}
        for league in wanted:
            if league in loaded.unreadable:
                line = f"{provider.name} {league}: skipped: {loaded.unreadable[league]}"
                log.error("%s", line)
            elif league not in found:
                line = (
                    f"{provider.name} {league}: no snapshot to monitor; "
                    "run `snuper -t scrape` first"
                )
                log.warning("%s", line)
            else:
                continue
            run.skipped.append(line)
        for snapshot in loaded.snapshots:
            if snapshot.slate_date < today:
                log.warning("%s %s: the latest snapshot is of %s, not today",
                            provider.name, snapshot.league, snapshot.slate_date)  # fmt: skip
            feed = provider.feed(provider.endpoints(), settings, snapshot)
            engines.append(MonitorEngine(snapshot, feed, worker, settings.monitor, stop, now=now))
    if not engines:
        log.error("nothing to monitor: no snapshot could be read")
        return
    # One engine failing must not cancel the others (and lose what they hold).
    outcomes = await asyncio.gather(*(e.run() for e in engines), return_exceptions=True)
    for engine, outcome in zip(engines, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            line = f"{engine.name}: the monitor failed: {type(outcome).__name__}: {outcome}"
            log.error("%s", line, exc_info=outcome)
            run.crashed.append(line)
            engine.result.stopped = "crashed"
        run.results.append(engine.result)  # a crashed engine's counts (and loss) too


def _left_of_deadline(engines: Sequence[MonitorEngine], deadline: float) -> float:
    """One deadline covers the whole shutdown: what the last engine to stop left of it (the
    engines stop together on a signal), and never less than a moment to close files."""
    started = [e.shutdown_started for e in engines if e.shutdown_started is not None]
    if not started:
        return deadline
    return max(0.25, deadline - (engines[0].clock() - max(started)))


async def _close(worker: SinkWorker, timeout: float, run: MonitorRun) -> None:
    """Close the sink on its own thread: a sink that stopped answering is abandoned."""
    try:  # the close flushes: what it makes durable is not lost (recount_after_close)
        await worker.call_indexed(worker.sink.close, timeout=timeout, makes_durable=True)
    except TimeoutError:
        run.crashed.append(f"sink {worker.name}: close did not finish within {timeout:.1f}s")
        log.error("%s", run.crashed[-1])
    except SinkError as exc:
        run.crashed.append(f"sink {worker.name}: {exc}")
        log.error("%s", run.crashed[-1])
    finally:
        worker.stop()
