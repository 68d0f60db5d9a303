"""Reading back what a monitor wrote with the fs sink, as the e2e tests compare it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from tests.e2e.cli import FROZEN_SLATE


def read_odds(root: Path, provider: str, league: str, event_id: int | str) -> list[dict[str, Any]]:
    """Every record of one event's odds file, in order."""
    path = root / provider / "odds" / f"{FROZEN_SLATE}-{league}-{event_id}.json"
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def moves(records: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """(selection id, line, American, previous line, previous American) per odds record."""
    return [
        (r["selection_id"], r["line"], r["odds_american"], prev["line"], prev["odds_american"])
        for r in records
        if r["type"] == "odds" and isinstance(prev := r["previous"], dict)
    ]
