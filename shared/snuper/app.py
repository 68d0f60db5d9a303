"""The service layer the CLI and every cloud handler call: scrape and monitor, with typed outcomes.

Nothing here parses flags or picks exit codes (cli.py does), installs signal handlers (the caller
passes a stop event) or reads the clock directly (a `now` callable is passed in).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from snuper.config import Settings
from snuper.feed import unless_stopped
from snuper.model import Snapshot
from snuper.providers import Provider
from snuper.providers.base import ScrapeContext, ScrapeFailure
from snuper.runner import MonitorEngine, MonitorResult
from snuper.sinks.base import Sink, SinkError, unfinished
from snuper.sinks.worker import SinkWorker
from snuper.slate import today_slate, utc_now

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext

    from snuper.archive.stores import SegmentStore
    from snuper.archive.writer import Archive

log = logging.getLogger("snuper")


class Status(StrEnum):
    WRITTEN = "written"
    KEPT = "kept"  # today's snapshot was already there (no --overwrite)
    NO_GAMES = "no games"
    BLOCKED = "blocked"  # the book refused us (403/429, a bot-check page)
    UNPARSEABLE = "unparseable"  # the book answered something we cannot read
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # a stop (SIGINT/SIGTERM) came before the league was scraped


@dataclass(frozen=True, slots=True)
class ScrapeOutcome:
    provider: str
    league: str
    status: Status
    slate: str
    events: int = 0
    selections: int = 0
    where: str = ""  # where the snapshot is (written or kept)
    reason: str = ""  # why not (blocked, unparseable, failed, interrupted)


async def scrape(
    providers: Sequence[Provider],
    leagues: Sequence[str],
    sink: Sink,
    settings: Settings,
    *,
    overwrite: bool = False,
    now: Callable[[], datetime] = utc_now,
    browser: BrowserContext | None = None,
    stop: asyncio.Event | None = None,
) -> list[ScrapeOutcome]:
    """Scrape today's slate of each provider and league into `sink`: one outcome per pair.

    Each league is saved as soon as it is scraped. Once `stop` is set, the league being scraped
    is abandoned at once (its page load cancelled), no further league starts, and each league
    not scraped gets an INTERRUPTED outcome; the leagues saved before stay saved."""
    slate = today_slate(now())  # once per run: a run that crosses midnight stays on its slate
    stop = stop or asyncio.Event()
    outcomes: list[ScrapeOutcome] = []
    for provider in providers:
        wanted = [lg for lg in leagues if lg in provider.leagues]
        if not wanted:
            continue
        done: list[ScrapeOutcome] = []
        abandoned = None
        if not stop.is_set():
            log.info("%s: scraping %s for slate %s", provider.name, ", ".join(wanted), slate)
            context = ScrapeContext(provider.endpoints(), settings, slate, now, browser)
            abandoned = await _scrape_provider(provider, context, wanted, sink, overwrite, stop,
                                               done)  # fmt: skip
        scraped = {o.league for o in done}
        for league in wanted:
            if league in scraped:
                continue
            if stop.is_set():
                reason = "abandoned mid-scrape" if league == abandoned else "not started"
                done.append(ScrapeOutcome(provider.name, league, Status.INTERRUPTED, slate,
                                          reason=reason))  # fmt: skip
            else:  # a provider that skipped a league it was asked for
                log.error("%s %s: the scrape returned nothing for it", provider.name, league)
                done.append(ScrapeOutcome(provider.name, league, Status.FAILED, slate,
                                          reason="the scrape returned nothing"))  # fmt: skip
        outcomes += done
    return outcomes


async def _scrape_provider(
    provider: Provider,
    context: ScrapeContext,
    wanted: Sequence[str],
    sink: Sink,
    overwrite: bool,
    stop: asyncio.Event,
    done: list[ScrapeOutcome],
) -> str | None:
    """Save each league's result into `done` as it arrives. On `stop`, cancel the scrape (the
    league in flight, its page load too) and return that league, said in one log line."""
    from snuper.page_data import BrowserError

    async def save_each() -> bool:
        async with contextlib.aclosing(provider.scrape(context, wanted)) as results:
            async for result in results:
                done.append(_save_result(provider.name, result, context.slate, sink, overwrite))
        return True

    try:  # a stop cancels the scrape: the browser closes as it unwinds
        finished = await unless_stopped(save_each, stop)
    except Exception as exc:
        if not stop.is_set():
            if not isinstance(exc, BrowserError):
                raise
            log.error("%s: scrape failed: %s", provider.name, exc)
            scraped = {o.league for o in done}
            failed = [lg for lg in wanted if lg not in scraped]
            slate = context.slate
            done += [ScrapeOutcome(provider.name, lg, Status.FAILED, slate, reason=str(exc))
                     for lg in failed]  # fmt: skip
            return None
        # An error while unwinding a stopped scrape: a browser the same Ctrl-C killed, say.
        log.debug("%s: the stopped scrape ended with %r", provider.name, exc)
        finished = None
    if finished:
        return None
    scraped = {o.league for o in done}
    in_flight = next((lg for lg in wanted if lg not in scraped), None)
    if in_flight is not None:
        log.warning("%s %s: abandoned mid-scrape on a stop request; nothing saved for it",
                    provider.name, in_flight)  # fmt: skip
    return in_flight


def _save_result(
    provider: str, result: Snapshot | ScrapeFailure, slate: str, sink: Sink, overwrite: bool
) -> ScrapeOutcome:
    if isinstance(result, ScrapeFailure):
        log.error("%s %s: %s: %s", provider, result.league, result.kind, result.reason)
        return ScrapeOutcome(provider, result.league, Status(result.kind), slate,
                             reason=result.reason)  # fmt: skip
    return save_snapshot(provider, result, sink, overwrite)


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
    slate: str | None = None,
    archive: SegmentStore | None = None,
) -> MonitorRun:
    """Watch the snapshot of `slate` (default: today's; else the newest earlier one) of each
    provider and league until its events are over, the runtime limit, or `stop`. The run owns
    `sink` and closes it, within the shutdown deadline. With `archive`, every message received
    is kept there too (snuper.archive), and closed within the same deadline."""
    run = MonitorRun()
    worker = SinkWorker(sink)
    engines: list[MonitorEngine] = []
    slate = slate or today_slate(now())
    keeper = None
    if archive is not None:
        from snuper.archive.writer import Archive

        keeper = Archive(archive)
    try:
        await _watch(providers, leagues, worker, settings, stop, now, slate, run, engines, keeper)
    finally:
        left = _left_of_deadline(engines, settings.monitor.shutdown_deadline)
        # One budget for both: the archive closes beside the sink, not before it.
        closing = [_close(worker, left, run)]
        if keeper is not None:
            closing.append(_close_archive(keeper, left, run))
        await asyncio.gather(*closing)
        for engine in engines:
            engine.recount_after_close()
    return run


async def _close_archive(keeper: Archive, timeout: float, run: MonitorRun) -> None:
    """Write what the archive holds and close its segments (on its own thread)."""
    missing = await asyncio.to_thread(keeper.close, timeout)
    if missing:
        run.crashed.append(f"archive: {missing} messages or segments not stored in "
                           f"{timeout:.1f}s")  # fmt: skip
    else:
        log.info("archive: %d entries kept (messages, connections, subscriptions)", keeper.archived)


async def _watch(
    providers: Sequence[Provider],
    leagues: Sequence[str],
    worker: SinkWorker,
    settings: Settings,
    stop: asyncio.Event,
    now: Callable[[], datetime],
    today: str,
    run: MonitorRun,
    engines: list[MonitorEngine],
    keeper: Archive | None = None,
) -> None:
    for provider in providers:
        wanted = [lg for lg in leagues if lg in provider.leagues]
        load = functools.partial(worker.sink.load_snapshots, provider.name, wanted, today)
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
                log.warning("%s %s: no snapshot of slate %s; watching the one of %s",
                            provider.name, snapshot.league, today, snapshot.slate_date)  # fmt: skip
            try:  # another monitor holds it (SinkBusy), or what was recorded cannot be read
                claim = functools.partial(worker.sink.claim, provider.name, snapshot.league)
                await worker.call(claim)
                recorded = await worker.call(functools.partial(worker.sink.last_prices, snapshot))
            except SinkError as exc:
                line = f"{provider.name} {snapshot.league}: skipped: {exc}"
                log.error("%s", line)
                run.skipped.append(line)
                continue
            feed = provider.feed(provider.endpoints(), settings, snapshot)
            kept = None
            if keeper is not None:
                kept = keeper.league(provider.name, snapshot.league, snapshot.slate_date)
                log.info("%s %s: archiving every message in %s", provider.name,
                         snapshot.league, kept.where)  # fmt: skip
            engine = MonitorEngine(snapshot, feed, worker, settings.monitor, stop, now=now,
                                   resume=recorded, archive=kept)  # fmt: skip
            engines.append(engine)
    if not engines:
        if not run.skipped:  # otherwise each league's line already said why
            log.error("nothing to monitor")
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
    return max(0.25, deadline - (engines[0].timer() - max(started)))


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
    # Records a sink kept aside (a fanout's spill file of a sink still down): not lost, but
    # the run did not finish its job, and the line says where they wait.
    for line in unfinished(worker.sink):
        run.crashed.append(line)
        log.error("%s", line)
