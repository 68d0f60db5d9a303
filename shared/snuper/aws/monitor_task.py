"""The Fargate monitor task: one provider and league of one slate, from the state machine's
container overrides (SNUPER_MONITOR_*), into the sinks of the environment.

It runs until the league's events are over or SNUPER_MONITOR_STOP_AFTER seconds; SIGTERM (ECS
stopping the task) stops it, every sink is flushed and closed within the shutdown deadline (20 s,
below ECS's 30 s stop timeout), and it exits 0. Exit statuses are the CLI monitor's."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from snuper import app
from snuper.archive.stores import SegmentStore, segment_store
from snuper.aws import environment
from snuper.aws.events import EventError, parse_selection
from snuper.aws.secrets import SecretError
from snuper.cli import monitor_exit_status
from snuper.config import ConfigError, MonitorSettings, Settings, archive_wanted
from snuper.providers import PROVIDERS
from snuper.signals import stop_on_signals
from snuper.sinks.base import Sink, SinkConfigError, SinkError

log = logging.getLogger("snuper")
PREFIX = "SNUPER_MONITOR_"
EXIT_USAGE = 2


@dataclass(frozen=True, slots=True)
class Job:
    provider: str
    league: str
    slate: str | None
    monitor: MonitorSettings


def job_from_env(env: Mapping[str, str]) -> Job:
    """The job of the overrides; EventError names the variable that is missing or wrong."""
    provider = _name(env, "PROVIDER", "providers")
    league = _name(env, "LEAGUE", "leagues")
    slate = env.get(f"{PREFIX}SLATE") or None
    if slate is not None:
        _check_slate(slate)
    default = MonitorSettings()
    monitor = MonitorSettings(
        max_runtime=_seconds(env, "STOP_AFTER"),
        # Not set by the state machine; tests and local runs tune the cadence with them.
        interval=_seconds(env, "INTERVAL") or default.interval,
        poll_interval=_seconds(env, "INTERVAL"),
        heartbeat_s=_seconds(env, "HEARTBEAT") or default.heartbeat_s,
        shutdown_deadline=_seconds(env, "SHUTDOWN_DEADLINE") or default.shutdown_deadline,
    )
    return Job(provider, league, slate, monitor)


def _name(env: Mapping[str, str], name: str, key: str) -> str:
    var = PREFIX + name
    value = env.get(var)
    if not value:
        raise EventError(f"environment variable {var}: required")
    try:
        [checked] = getattr(parse_selection({key: [value]}), key)
    except EventError as exc:
        raise EventError(f"environment variable {var}: {exc}") from None
    return str(checked)


def _seconds(env: Mapping[str, str], name: str) -> float | None:
    text = env.get(PREFIX + name)
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < math.inf:
        raise EventError(f"environment variable {PREFIX}{name}: expected seconds > 0, got {text!r}")
    return value


def _check_slate(text: str) -> None:
    ok = len(text) == 8 and text.isdigit()
    try:
        datetime.strptime(text, "%Y%m%d")
    except ValueError:
        ok = False
    if not ok:
        raise EventError(f"environment variable {PREFIX}SLATE: not a date (YYYYMMDD): {text!r}")


def run_task(env: Mapping[str, str] | None = None) -> tuple[int, dict[str, int]]:
    """(exit status, counts of what the run did) for the job of the environment."""
    env = os.environ if env is None else env
    try:
        job = job_from_env(env)
        settings = environment.settings(env, monitor=job.monitor)
        archiving = archive_wanted(env)
        sink = environment.sink(env, must_exist=True)
        archive = _archive(sink) if archiving else None
    except SecretError as exc:  # Secrets Manager unreachable, say: a retry may work
        log.error("cannot start the monitor: %s", exc)
        return 1, {}
    except (EventError, ConfigError, SinkConfigError) as exc:
        log.error("cannot start the monitor: %s", exc)
        return EXIT_USAGE, {}
    log.info("monitoring %s %s (slate %s, stop after %s s)", job.provider, job.league,
             job.slate or "today", job.monitor.max_runtime)  # fmt: skip
    try:
        run = asyncio.run(_monitor(job, sink, settings, environment.clock(settings), archive))
    except SinkError as exc:
        log.error("%s", exc)
        return 1, {}
    counts = {
        "updates": sum(r.updates for r in run.results),
        "heartbeats": sum(r.heartbeats for r in run.results),
        "lost": sum(r.lost for r in run.results),
    }
    return monitor_exit_status(run), counts


def _archive(sink: Sink) -> SegmentStore:
    """Where SNUPER_ARCHIVE=1 keeps the raw messages: the s3 (or fs) sink's store."""
    store = segment_store(sink)
    if store is None:
        with contextlib.suppress(SinkError):
            sink.close()
        raise ConfigError("SNUPER_ARCHIVE", f"the sinks ({sink.name}) include no s3 or fs sink")
    return store


async def _monitor(
    job: Job,
    sink: Sink,
    settings: Settings,
    now: Callable[[], datetime],
    archive: SegmentStore | None = None,
) -> app.MonitorRun:
    with stop_on_signals() as stop:
        return await app.monitor([PROVIDERS[job.provider]], [job.league], sink, settings, stop,
                                 now=now, slate=job.slate, archive=archive)  # fmt: skip
