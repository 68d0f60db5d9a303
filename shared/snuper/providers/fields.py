"""Reading a book's JSON: every parser's field readers, each failure a ParseError naming the path
(e.g. `events[2].displayGroups[0].markets[1].outcomes[0].price.american`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from snuper.feed import ParseError
from snuper.ids import IdField, check_id, id_problem
from snuper.odds import OddsError, american_to_decimal, parse_american, parse_line


def at(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def obj(value: object, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ParseError(path, f"expected an object, got {type(value).__name__}")
    return value


def req(body: Mapping[str, Any], key: str, path: str) -> Any:
    if key not in body or body[key] is None:
        raise ParseError(at(path, key), "missing")
    return body[key]


def req_list(body: Mapping[str, Any], key: str, path: str) -> list[Any]:
    value = req(body, key, path)
    if not isinstance(value, list):
        raise ParseError(at(path, key), f"expected a list, got {type(value).__name__}")
    return value


def opt_list(body: Mapping[str, Any], key: str, path: str) -> list[Any]:
    return req_list(body, key, path) if body.get(key) is not None else []


def req_str(body: Mapping[str, Any], key: str, path: str) -> str:
    value = req(body, key, path)
    if not isinstance(value, str):
        raise ParseError(at(path, key), f"expected a string, got {type(value).__name__}")
    return value


def book_id(field: IdField, body: Mapping[str, Any], key: str, path: str) -> str:
    """An id the book sends as a string or an integer, as its text; it must be usable as an id
    (ids.py: ids become file names and keys)."""
    value = req(body, key, path)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ParseError(at(path, key), f"expected an id, got {value!r}")
    text = str(value)
    if id_problem(field, text) is not None:
        raise ParseError(at(path, key), f"not a usable id: {text!r}")
    return check_id(field, text, where=at(path, key))


def american(value: object, path: str) -> int:
    if not isinstance(value, int | str) or isinstance(value, bool):
        raise ParseError(path, f"expected American odds, got {value!r}")
    try:
        return parse_american(value)
    except OddsError as exc:
        raise ParseError(path, str(exc)) from None


def decimal(value: object, american_odds: int, path: str) -> float:
    """The book's decimal price (a number, or a string with a dot or comma); optional: computed
    from the American price when absent."""
    if value is None:
        return american_to_decimal(american_odds)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ParseError(path, f"expected decimal odds, got {value!r}")
    try:
        number = parse_line(value)  # tolerant number reading: "1,91" too
    except OddsError as exc:
        raise ParseError(path, str(exc)) from None
    if number is None or number <= 1:
        raise ParseError(path, f"decimal odds must be > 1, got {value!r}")
    return round(number, 4)


def line(value: object, path: str) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ParseError(path, f"expected a line, got {value!r}")
    try:
        return parse_line(value)
    except OddsError as exc:
        raise ParseError(path, str(exc)) from None
