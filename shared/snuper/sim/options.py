"""How a simulator run behaves: seed, time compression, and injected faults."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True, slots=True)
class Faults:
    """Faults are injected once each (so a test knows exactly what happened).

    drop_after: close the first websocket that has sent this many update frames (abruptly).
    malformed_at: the Nth update frame (1-based, counted over the whole sim) is sent as bytes
        that are not a valid frame, once; the real frame follows right after it.
    http_status / http_failures: answer the JSON API with this status the first N times.
    delay_s: every HTTP response waits this long first (a slow site) ...
    delay_after_api: ... once this many JSON API requests came in (0: from the first request;
        1: the first league loads at full speed, the site slows down for the next ones).
    unreadable_api: the JSON API answers 200 with JSON of a shape the parser does not know (as
        after a redesign of the book's API), every time.
    """

    drop_after: int | None = None
    malformed_at: int | None = None
    http_status: int | None = None
    http_failures: int = 0
    delay_s: float = 0.0
    delay_after_api: int = 0
    unreadable_api: bool = False


@dataclass(frozen=True, slots=True)
class SimOptions:
    seed: int = 1
    speed: float = 60.0  # scenario seconds per real second
    slate_day: date | None = None  # default: today in America/New_York
    events_per_league: int = 3
    faults: Faults = field(default_factory=Faults)
