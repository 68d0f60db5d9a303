"""The one check for every id that becomes part of a file path, an S3 key or a Redis key.

Ids come from a book (REST payloads, socket frames) and from snapshot files; each is checked where
it enters (the provider's parser, Snapshot.from_dict), so nothing downstream ever joins a path
out of "../../x". The rules:

- event_id, market_id: 1-128 ASCII letters, digits, "_", "-" or "."; never a leading "." and
  never "..".
- selection_id: the same, and "#" too. DraftKings names some prop selections with it: the
  captured format=json feed removes "0QA372230232#2294390952_13L84240Q11697086504Q20". A selection
  id never becomes a file or folder name here, and "#" cannot climb out of a folder.
- provider: 1-32 lowercase ASCII letters ("draftkings").
- league: one of snuper.slate.LEAGUES.
- slate_date: exactly YYYYMMDD (ASCII digits), a real calendar date.

Checked against every id in the DraftKings captures (../shared/fixtures/captured): REST event ids
(digits, "34787551"), market ids ("1_80000001", "2_86627179", "3_86627202"), selection ids
("0ML80000001_1", "0HC86627179N550_1", "0HC86627179P550_3", "0OU86627202O1650_1",
"0OU86627202U1650_3"), the socket frames' deletes and the format=json feed's ids, removals and
replacedSelectionId values, including the "#" prop id above.

Hot paths (a socket frame's quotes) call `is_valid_id`, or the precompiled `FULLMATCH` of the
field, and build an error text (`id_problem`) only for an id that fails.
"""

from __future__ import annotations

import re
import reprlib
from collections.abc import Callable
from datetime import date
from typing import Final, Literal

from snuper.slate import LEAGUES

IdField = Literal["provider", "league", "slate_date", "event_id", "market_id", "selection_id"]
ID_FIELDS: Final[tuple[IdField, ...]] = (
    "provider",
    "league",
    "slate_date",
    "event_id",
    "market_id",
    "selection_id",
)
MAX_ID_LENGTH: Final = 128
MAX_PROVIDER_LENGTH: Final = 32

# (?!\.) no leading dot; (?!.*\.\.) no "..": one fullmatch per id, nothing else on success.
_ID: Final = re.compile(rf"(?!\.)(?!.*\.\.)[A-Za-z0-9_.\-]{{1,{MAX_ID_LENGTH}}}")
_SELECTION_ID: Final = re.compile(rf"(?!\.)(?!.*\.\.)[A-Za-z0-9_.#\-]{{1,{MAX_ID_LENGTH}}}")
_PROVIDER: Final = re.compile(rf"[a-z]{{1,{MAX_PROVIDER_LENGTH}}}")
_SLATE_DATE: Final = re.compile(r"[0-9]{8}")
_LEAGUE: Final = re.compile("|".join(re.escape(league) for league in LEAGUES))

Matcher = Callable[[str], re.Match[str] | None]
# The shape of each field; a slate_date must also be a real date (see is_valid_id).
FULLMATCH: Final[dict[IdField, Matcher]] = {
    "provider": _PROVIDER.fullmatch,
    "league": _LEAGUE.fullmatch,
    "slate_date": _SLATE_DATE.fullmatch,
    "event_id": _ID.fullmatch,
    "market_id": _ID.fullmatch,
    "selection_id": _SELECTION_ID.fullmatch,
}

_EXPECTED: Final[dict[IdField, str]] = {
    "provider": f"1-{MAX_PROVIDER_LENGTH} lowercase letters",
    "league": f"one of {', '.join(LEAGUES)}",
    "slate_date": "a date as YYYYMMDD",
    "event_id": f"1-{MAX_ID_LENGTH} of A-Z a-z 0-9 _ - . (no leading '.', no '..')",
    "market_id": f"1-{MAX_ID_LENGTH} of A-Z a-z 0-9 _ - . (no leading '.', no '..')",
    "selection_id": f"1-{MAX_ID_LENGTH} of A-Z a-z 0-9 _ - . # (no leading '.', no '..')",
}

_REPR: Final = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother, _REPR.maxlist, _REPR.maxdict = 2, 60, 60, 4, 4
_BRIEF_CHARS: Final = 60


class IdError(ValueError):
    """An id that must not become part of a path or key; the message names where and what."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem


def brief(value: object) -> str:
    """A one-line, bounded repr of a value for an error message."""
    if isinstance(value, str):
        if len(value) > _BRIEF_CHARS:
            return repr(value[:_BRIEF_CHARS]) + "..."
        return repr(value)
    return _REPR.repr(value)


def _real_date(text: str) -> bool:
    try:
        date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return False
    return True


def is_valid_id(field: IdField, value: object) -> bool:
    """True when `value` is a valid `field` (a str of the field's shape). Cheap: no formatting."""
    if type(value) is not str or FULLMATCH[field](value) is None:
        return False
    return field != "slate_date" or _real_date(value)


def id_problem(field: IdField, value: object) -> str | None:
    """None for a valid id, else what is wrong with it, in one line with the value's repr."""
    if is_valid_id(field, value):
        return None
    if not isinstance(value, str):
        return f"expected a string, got {type(value).__name__} {brief(value)}"
    if field == "slate_date" and FULLMATCH[field](value) is not None:
        return f"not a real date, got {brief(value)}"
    return f"expected {_EXPECTED[field]}, got {brief(value)}"


def check_id(field: IdField, value: object, *, where: str | None = None) -> str:
    """`value` when it is a valid `field`, else IdError naming `where` (default: the field)."""
    if isinstance(value, str) and is_valid_id(field, value):
        return value
    problem = id_problem(field, value)
    assert problem is not None
    raise IdError(where or field, problem)
