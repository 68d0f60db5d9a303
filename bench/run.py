"""Run the registered figures, print the table and write bench/results.json."""

from __future__ import annotations

import argparse
import importlib
import json
import math
import platform
import sys
import time
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.registry import REGISTRY, Figure

# One module per figure group; each registers its figures on import.
MODULES = (
    "bench.parse",
    "bench.startup",
    "bench.scrape",
    "bench.monitor",
    "bench.replay",
    "bench.latency",
    "bench.memory",
    "bench.sinks",
)
DEFAULT_OUT = Path(__file__).resolve().parent / "results.json"


def _progress(line: str) -> None:
    print(f"  .. {line}", file=sys.stderr, flush=True)


def _fmt(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3f}"


def table(figures: Sequence[Figure]) -> str:
    rows = [("figure", "value", "target", "result")]
    for fig in figures:
        op = ">=" if fig.direction == "higher" else "<="
        unit = f" {fig.unit}" if fig.unit else ""
        rows.append(
            (fig.key, f"{_fmt(fig.value)}{unit}", f"{op} {_fmt(fig.target)}{unit}",
             "pass" if fig.passed else "MISS")
        )  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = []
    for n, row in enumerate(rows):
        lines.append(" | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if n == 0:
            lines.append("-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("only", nargs="*", help="run only figures whose name starts with these")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results JSON path")
    args = parser.parse_args(argv)
    for module in MODULES:
        importlib.import_module(module)
    entries = [
        e
        for e in REGISTRY.values()
        if not args.only or any(e.name.startswith(p) for p in args.only)
    ]
    if not entries:
        parser.error(f"no figure matches {args.only}; known: {', '.join(REGISTRY)}")

    figures: list[Figure] = []
    failed: list[str] = []
    for entry in entries:
        print(f"== {entry.name}", file=sys.stderr, flush=True)
        started = time.perf_counter()
        try:
            result = entry.measure(_progress)
        except Exception:
            traceback.print_exc()
            failed.append(entry.name)
            continue
        got = [result] if isinstance(result, Figure) else list(result)
        figures.extend(got)
        took = time.perf_counter() - started
        for fig in got:
            _progress(f"{fig.key} = {_fmt(fig.value)} {fig.unit} ({took:.1f} s)")

    results: dict[str, Any] = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": f"{platform.system()} {platform.machine()}",
        "figures": {fig.key: fig.to_dict() for fig in figures},
        "errors": failed,
    }
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print()
    print(table(figures))
    for name in failed:
        print(f"{name}: ERROR (see the traceback above)")
    print(f"\nwritten: {args.out}")
    return 1 if failed else 0
