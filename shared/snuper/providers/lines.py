"""A main-line selection as a parser reads it, before it becomes a snapshot's Selection; and the
order every book's selections are kept in (moneyline, spread, total; home or over first)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from snuper.model import Market, Selection, Side

KIND_ORDER: Final[dict[Market, int]] = {"moneyline": 0, "spread": 1, "total": 2}
SIDE_RANK: Final[dict[Side, int]] = {"home": 0, "over": 0, "away": 1, "under": 1}


@dataclass(frozen=True, slots=True)
class Line:
    market_id: str
    kind: Market
    side: Side
    selection_id: str
    label: str
    line: float | None
    american: int
    decimal: float


def line_order(line: Line) -> tuple[int, int]:
    return KIND_ORDER[line.kind], SIDE_RANK[line.side]


def selections(lines: Iterable[Line]) -> tuple[Selection, ...]:
    return tuple(
        Selection(
            s.selection_id, s.market_id, s.kind, s.side, s.label, s.line, s.american, s.decimal
        )
        for s in lines
    )
