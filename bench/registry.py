"""The figure registry: one function per figure (or per group measured in one run).

A measuring function takes a `progress` callable (one line per step, printed as it goes) and
returns one Figure, or several when one run yields several figures (p50 and p99 of one run).
Adding a figure is one decorated function in a module listed in bench.run.MODULES.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Direction = Literal["higher", "lower"]  # higher: value >= target passes; lower: value <= target
Progress = Callable[[str], None]
Measure = Callable[[Progress], "Figure | Sequence[Figure]"]


@dataclass(frozen=True, slots=True)
class Figure:
    key: str
    value: float
    target: float
    direction: Direction
    unit: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        if math.isnan(self.value):
            return False
        if self.direction == "higher":
            return self.value >= self.target
        return self.value <= self.target

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "target": self.target,
            "direction": self.direction,
            "unit": self.unit,
            "pass": self.passed,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class Entry:
    name: str  # the figure key, or the group's prefix when it yields several figures
    measure: Measure


REGISTRY: dict[str, Entry] = {}


def figure(name: str) -> Callable[[Measure], Measure]:
    """Register a measuring function under `name` (selected by `python -m bench <prefix>`)."""

    def register(fn: Measure) -> Measure:
        if name in REGISTRY:
            raise ValueError(f"figure {name!r} registered twice")
        REGISTRY[name] = Entry(name, fn)
        return fn

    return register


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        return math.nan
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2
