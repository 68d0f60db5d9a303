"""import_ms.<entry>: importing an entry point in a fresh interpreter, minus a bare interpreter."""

from __future__ import annotations

import subprocess
import sys
import time

from bench.registry import Figure, Progress, figure, median

RUNS = 5
MONITOR_IMPORT = "import snuper.app, snuper.runner, snuper.providers.draftkings.monitor"


def _wall(code: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - started


def import_ms(key: str, code: str, target_ms: float, progress: Progress) -> Figure:
    _wall("pass")  # warm the file cache for both
    _wall(code)
    diffs: list[float] = []
    for run in range(RUNS):
        # Each import run beside its own bare run, in alternating order.
        if run % 2:
            full, bare = _wall(code), _wall("pass")
        else:
            bare, full = _wall("pass"), _wall(code)
        diffs.append((full - bare) * 1000)
        progress(f"run {run + 1}/{RUNS}: bare {bare * 1000:.0f} ms, import {full * 1000:.0f} ms")
    return Figure(key, median(diffs), target_ms, "lower", "ms", {"runs_ms": diffs, "code": code})


@figure("import_ms.monitor")
def import_ms_monitor(progress: Progress) -> Figure:
    return import_ms("import_ms.monitor", MONITOR_IMPORT, 300, progress)


# The cloud entry points (issue 9), as they run outside Lambda (no X-Ray tracer: it is built only
# in Lambda). `make import-times` also prints them as in Lambda, tracer included.
@figure("import_ms.scrape_handler")
def import_ms_scrape_handler(progress: Progress) -> Figure:
    return import_ms("import_ms.scrape_handler", "import functions.scrape.app", 300, progress)


@figure("import_ms.plan_handler")
def import_ms_plan_handler(progress: Progress) -> Figure:
    code = "import functions.plan_monitors.app"
    return import_ms("import_ms.plan_handler", code, 300, progress)


@figure("import_ms.monitor_task")
def import_ms_monitor_task(progress: Progress) -> Figure:
    return import_ms("import_ms.monitor_task", "import functions.monitor.main", 300, progress)
