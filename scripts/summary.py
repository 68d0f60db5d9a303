"""Print what an fs sink folder holds: events and records per provider, league and slate."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import orjson


def summarise(root: Path) -> list[str]:
    rows = [f"{'provider':<12}{'league':<8}{'slate':<10}{'events':>7}{'selections':>11}"
            f"{'odds':>7}{'heartbeats':>11}"]  # fmt: skip
    for snapshot_path in sorted(root.glob("*/events/*.json")):
        snapshot = orjson.loads(snapshot_path.read_bytes())
        provider, league, slate = snapshot["provider"], snapshot["league"], snapshot["slate_date"]
        counts: Counter[str] = Counter()
        for odds_path in (root / provider / "odds").glob(f"{slate}-{league}-*.json"):
            for line in odds_path.read_bytes().splitlines():
                counts[orjson.loads(line)["type"]] += 1
        selections = sum(len(e["selections"]) for e in snapshot["events"])
        rows.append(f"{provider:<12}{league:<8}{slate:<10}{len(snapshot['events']):>7}"
                    f"{selections:>11}{counts['odds']:>7}{counts['heartbeat']:>11}")  # fmt: skip
    return rows


if __name__ == "__main__":
    print("\n".join(summarise(Path(sys.argv[1] if len(sys.argv) > 1 else "data"))))
