"""Print what an fs sink folder holds: events and records per provider, league and slate.

Usage: python scripts/summary.py [DIR]  (default: demo-data, the folder `make demo` writes)
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

DEFAULT_DIR = "demo-data"


def summarise(root: Path) -> list[str]:
    rows = [f"{'provider':<12}{'league':<8}{'slate':<10}{'events':>7}{'selections':>11}"
            f"{'odds':>7}{'heartbeats':>11}"]  # fmt: skip
    # <slate>-<league>.json only: the sink's temp (".….partial") and moved-aside
    # (".json.unreadable-…") files are not snapshots.
    for snapshot_path in sorted(root.glob("*/events/[!.]*.json")):
        try:
            snapshot: dict[str, Any] = orjson.loads(snapshot_path.read_bytes())
            provider, league = snapshot["provider"], snapshot["league"]
            slate, events = snapshot["slate_date"], snapshot["events"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            rows.append(f"{snapshot_path}: unreadable snapshot ({type(exc).__name__}: {exc})")
            continue
        counts: Counter[str] = Counter()
        for odds_path in (root / provider / "odds").glob(f"{slate}-{league}-*.json"):
            for line in odds_path.read_bytes().splitlines():
                try:
                    counts[orjson.loads(line)["type"]] += 1
                except (ValueError, KeyError, TypeError):
                    counts["unreadable"] += 1
        selections = sum(len(e["selections"]) for e in events)
        rows.append(f"{provider:<12}{league:<8}{slate:<10}{len(events):>7}"
                    f"{selections:>11}{counts['odds']:>7}{counts['heartbeat']:>11}")  # fmt: skip
        if counts["unreadable"]:
            rows[-1] += f"  ({counts['unreadable']} unreadable lines)"
    return rows


def main(argv: list[str]) -> int:
    root = Path(argv[0] if argv else DEFAULT_DIR)
    if not root.is_dir():
        print(f"summary: no such directory: {root}", file=sys.stderr)
        return 2
    print("\n".join(summarise(root)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
