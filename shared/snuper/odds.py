"""Odds conversions and the tolerant parsing of the books' American odds strings."""

from __future__ import annotations

import math

MINUS_SIGNS = ("\u2212", "\u2013", "\u2012")  # books send U+2212 (and dashes) for minus
EVEN_WORDS = frozenset({"EVEN", "EVENS", "EV"})


class OddsError(ValueError):
    """A value that is not a price."""


def parse_american(value: str | int | float) -> int:
    """'+105' -> 105, '−110' (U+2212) -> -110, 'EVEN' -> 100, 150 -> 150."""
    if isinstance(value, bool):
        raise OddsError(f"not American odds: {value!r}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not value.is_integer():
            raise OddsError(f"not American odds: {value!r}")
        number = int(value)
    else:
        text = value.strip()
        if text.upper() in EVEN_WORDS:
            return 100
        for sign in MINUS_SIGNS:
            text = text.replace(sign, "-")
        try:
            number = int(text)
        except ValueError:
            raise OddsError(f"not American odds: {value!r}") from None
    if -100 < number < 100:
        raise OddsError(f"American odds must be <= -100 or >= 100: {value!r}")
    return 100 if number == -100 else number


def parse_line(value: str | int | float | None) -> float | None:
    """A handicap or total: '+1.5', '−3', '1,5' -> 1.5, 'pk'/'PK' -> 0.0, None -> None."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise OddsError(f"not a line: {value!r}")
    if isinstance(value, int | float):
        return _finite(float(value), value)
    text = value.strip()
    if text.lower() in {"pk", "pick", "pick'em", "even"}:
        return 0.0
    for sign in MINUS_SIGNS:
        text = text.replace(sign, "-")
    try:
        line = float(text.replace(",", "."))
    except ValueError:
        raise OddsError(f"not a line: {value!r}") from None
    return _finite(line, value)


def _finite(line: float, value: object) -> float:
    if not math.isfinite(line):
        raise OddsError(f"not a line: {value!r}")
    return line


def american_to_decimal(american: int) -> float:
    if american >= 100:
        return round(1 + american / 100, 4)
    if american <= -100:
        return round(1 + 100 / -american, 4)
    raise OddsError(f"American odds must be <= -100 or >= 100: {american}")


def decimal_to_american(decimal: float) -> int:
    if decimal <= 1:
        raise OddsError(f"decimal odds must be > 1: {decimal}")
    if decimal >= 2:
        return round((decimal - 1) * 100)
    return round(-100 / (decimal - 1))


def implied_probability(american: int) -> float:
    """Exact, not through the rounded decimal: -300 -> 0.75."""
    if american >= 100:
        return 100 / (american + 100)
    if american <= -100:
        return -american / (100 - american)
    raise OddsError(f"American odds must be <= -100 or >= 100: {american}")
