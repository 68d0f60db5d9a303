"""Import time of each cloud entry point in a fresh interpreter (a benchmark, not a test).

`make import-times` (or `.venv/bin/python scripts/import_times.py [--runs N]`). Each figure is
the median over N runs of `python -c "import <module>"` minus a bare `python -c pass` run beside
it, so the interpreter's own start is not counted. Two columns: as it runs here, in Fargate and
under `make invoke` (no tracer), and as in Lambda (LAMBDA_TASK_ROOT set: the Tracer is built,
which imports the X-Ray SDK and botocore). Target: <= 300 ms per handler module, here.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# module -> does it run in Lambda (the Fargate task never has a Tracer)
MODULES = {
    "functions.scrape.app": True,
    "functions.plan_monitors.app": True,
    "functions.monitor.main": False,
}
TARGET_MS = 300.0
LAMBDA_ENV = {"LAMBDA_TASK_ROOT": str(ROOT), "AWS_LAMBDA_FUNCTION_NAME": "import-times"}


def _wall(code: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)
    return time.perf_counter() - started


def import_ms(module: str, runs: int, extra: dict[str, str]) -> float:
    env = {**os.environ, "POWERTOOLS_TRACE_DISABLED": "false", **extra}
    code = f"import {module}"
    _wall("pass", env)  # warm the file cache for both
    _wall(code, env)
    diffs = []
    for run in range(runs):
        # Each import run beside its own bare run, in alternating order.
        if run % 2:
            full, bare = _wall(code, env), _wall("pass", env)
        else:
            bare, full = _wall("pass", env), _wall(code, env)
        diffs.append((full - bare) * 1000)
    return statistics.median(diffs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per figure (default 7)")
    args = parser.parse_args(argv)
    env = {key: value for key, value in os.environ.items() if key not in LAMBDA_ENV}
    os.environ.clear()
    os.environ.update(env)  # "here" means outside Lambda, whatever the caller's shell says
    print(f"{'module':<30} {'here':>8} {'as in Lambda':>13}  target <= {TARGET_MS:.0f} ms here")
    for module, lambda_too in MODULES.items():
        here = import_ms(module, args.runs, {})
        lam = (
            f"{import_ms(module, args.runs, LAMBDA_ENV):>10.0f} ms" if lambda_too else f"{'-':>13}"
        )
        verdict = "pass" if here <= TARGET_MS else "MISS"
        print(f"{module:<30} {here:>5.0f} ms {lam}  {verdict}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
