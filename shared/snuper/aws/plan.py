"""The PlanMonitorsFunction's job: from the latest snapshots, one monitor job per provider and
league with games on today's slate that are not all over.

stop_after is how long the monitor may run: until its last event is surely over (start + 12 h,
the engine's own rule), at least a minute, at most a day."""

from __future__ import annotations

import logging
import math
from datetime import datetime
from typing import Any

from snuper.aws import environment
from snuper.aws.events import parse_selection
from snuper.aws.observability import MONITOR_JOBS, PLAN_ERRORS, count
from snuper.model import Snapshot
from snuper.providers import PROVIDERS
from snuper.runner import SURELY_OVER_AFTER
from snuper.sinks.base import Sink
from snuper.slate import today_slate

log = logging.getLogger("snuper")
MIN_STOP_AFTER_S = 60
MAX_STOP_AFTER_S = 86_400


def plan_event(event: object) -> dict[str, Any]:
    """{"slate", "jobs": [{"provider", "league", "slate", "events", "stop_after"}]}; EventError
    for a bad event, before any sink is built."""
    try:
        selection = parse_selection(event)
        now = environment.clock(environment.settings())()
        sink = environment.sink(must_exist=True)
        try:
            plan = plan_jobs(sink, selection.providers, selection.leagues, now)
        finally:
            environment.close(sink)
    except Exception:
        count(PLAN_ERRORS, 1)
        raise
    count(MONITOR_JOBS, len(plan["jobs"]))
    return plan


def plan_jobs(
    sink: Sink, providers: tuple[str, ...], leagues: tuple[str, ...], now: datetime
) -> dict[str, Any]:
    slate = today_slate(now)
    jobs = []
    for name in providers:
        wanted = [lg for lg in leagues if lg in PROVIDERS[name].leagues]
        loaded = sink.load_snapshots(name, wanted, slate)
        for league, why in loaded.unreadable.items():
            log.error("%s %s: no monitor: %s", name, league, why)
        by_league = {s.league: s for s in loaded.snapshots}
        for league in wanted:
            job = _job(by_league.get(league), slate, now)
            if job is not None:
                jobs.append(job)
    log.info("slate %s: %d monitor jobs", slate, len(jobs),
             extra={"jobs": [f"{j['provider']} {j['league']}" for j in jobs]})  # fmt: skip
    return {"slate": slate, "jobs": jobs}


def _job(snapshot: Snapshot | None, slate: str, now: datetime) -> dict[str, Any] | None:
    if snapshot is None or snapshot.slate_date != slate:
        return None  # an earlier slate's snapshot: nothing of today's to watch
    live = [e for e in snapshot.events if now - e.start_time <= SURELY_OVER_AFTER]
    if not live:
        return None
    over_at = max(e.start_time for e in live) + SURELY_OVER_AFTER
    seconds = math.ceil((over_at - now).total_seconds())
    return {
        "provider": snapshot.provider,
        "league": snapshot.league,
        "slate": slate,
        "events": len(live),
        "stop_after": min(MAX_STOP_AFTER_S, max(MIN_STOP_AFTER_S, seconds)),
    }
