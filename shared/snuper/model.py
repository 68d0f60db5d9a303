"""The records every sink writes (design.md §3), with their JSON form."""

from __future__ import annotations

import builtins
import hashlib
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Final, Literal, NoReturn

import orjson

from snuper.ids import IdField, brief, id_problem, is_valid_id
from snuper.slate import iso_utc, parse_iso, slate_date

SCHEMA_VERSION = 1
Market = Literal["spread", "moneyline", "total"]
Side = Literal["home", "away", "over", "under"]
MARKETS: tuple[Market, ...] = ("spread", "moneyline", "total")
SIDES: tuple[Side, ...] = ("home", "away", "over", "under")
SIDES_OF: Final[dict[Market, tuple[Side, Side]]] = {
    "spread": ("home", "away"),
    "moneyline": ("home", "away"),
    "total": ("over", "under"),
}


class SnapshotError(ValueError):
    """A stored snapshot that does not have the documented shape, or holds a value that is not
    one (an unknown market, odds of 0, a NaN line, a path-like id...). The message is one line
    naming the field's path (e.g. `events[2].selections[0].odds_american`) and the value."""


# -- reading a snapshot: every value is checked where it enters ----------------------------------


def _fail(path: str, problem: str) -> NoReturn:
    raise SnapshotError(f"{path}: {problem}")


def _at(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _object(value: object, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        _fail(path or "snapshot", f"expected an object, got {type(value).__name__}")
    return value


def _get(data: Mapping[str, Any], key: str, prefix: str) -> Any:
    try:
        return data[key]
    except KeyError:
        name = _at(prefix, key)
        # The KeyError as cause: the fs sink reports "missing field '<name>'" from it.
        raise SnapshotError(f"malformed snapshot: missing field {name!r}") from KeyError(name)


def _id(data: Mapping[str, Any], key: IdField, prefix: str) -> str:
    value = _get(data, key, prefix)
    if isinstance(value, str) and is_valid_id(key, value):
        return value
    _fail(_at(prefix, key), id_problem(key, value) or "invalid")


def _text(data: Mapping[str, Any], key: str, prefix: str) -> str:
    value = _get(data, key, prefix)
    if not isinstance(value, str):
        _fail(_at(prefix, key), f"expected a string, got {type(value).__name__} {brief(value)}")
    return value


def _has_zone(text: str) -> bool:
    """Whether an ISO date-time names its zone (Z or an offset after the time)."""
    text = text.strip()
    if text[-1:] in ("Z", "z"):
        return True
    for separator in ("T", "t", " "):
        _, found, clock = text.partition(separator)
        if found:
            return "+" in clock or "-" in clock
    return False


def _moment(data: Mapping[str, Any], key: str, prefix: str) -> datetime:
    value = _get(data, key, prefix)
    path = _at(prefix, key)
    if not isinstance(value, str):
        _fail(path, f"expected an ISO date-time, got {type(value).__name__} {brief(value)}")
    try:
        moment = parse_iso(value)
    except ValueError:
        _fail(path, f"expected an ISO date-time, got {brief(value)}")
    if not _has_zone(value):
        _fail(path, f"expected a date-time with its zone (Z or an offset), got {brief(value)}")
    return moment


def _number(value: object) -> float | None:
    """A finite JSON number as float, else None (bools, strings such as "NaN", inf, NaN)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _list(data: Mapping[str, Any], key: str, prefix: str) -> list[Any]:
    value = _get(data, key, prefix)
    if not isinstance(value, list):
        _fail(_at(prefix, key), f"expected a list, got {type(value).__name__}")
    return value


@dataclass(frozen=True, slots=True)
class Selection:
    selection_id: str
    market_id: str
    market: Market
    side: Side
    label: str
    line: float | None
    odds_american: int
    odds_decimal: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, path: str = "") -> Selection:
        """The selection `data` holds, every field checked; SnapshotError naming the field
        (prefixed with `path`, e.g. "events[2].selections[0]") otherwise."""
        data = _object(data, path)
        selection_id = _id(data, "selection_id", path)
        market_id = _id(data, "market_id", path)
        market = _get(data, "market", path)
        if market not in MARKETS:
            _fail(_at(path, "market"), f"expected one of {', '.join(MARKETS)}, got {brief(market)}")
        side = _get(data, "side", path)
        sides = SIDES_OF[market]
        if side not in sides:
            _fail(
                _at(path, "side"),
                f"expected {' or '.join(sides)} for a {market}, got {brief(side)}",
            )
        raw_line = _get(data, "line", path)
        line = _number(raw_line)
        if market == "moneyline":
            if raw_line is not None:
                _fail(_at(path, "line"), f"expected null for a moneyline, got {brief(raw_line)}")
        elif line is None:
            _fail(
                _at(path, "line"), f"expected a finite number for a {market}, got {brief(raw_line)}"
            )
        american = _get(data, "odds_american", path)
        if isinstance(american, bool) or not isinstance(american, int) or -100 < american < 100:
            _fail(
                _at(path, "odds_american"),
                f"expected an integer <= -100 or >= 100, got {brief(american)}",
            )
        raw_decimal = _get(data, "odds_decimal", path)
        decimal = _number(raw_decimal)
        if decimal is None or decimal <= 1:
            _fail(
                _at(path, "odds_decimal"),
                f"expected a finite number > 1, got {brief(raw_decimal)}",
            )
        return cls(
            selection_id=selection_id,
            market_id=market_id,
            market=market,
            side=side,
            label=_text(data, "label", path),
            line=line,
            odds_american=american,
            odds_decimal=decimal,
        )


@dataclass(frozen=True, slots=True)
class Event:
    provider: str
    league: str
    event_id: str
    name: str
    home: str
    away: str
    start_time: datetime
    slate_date: str
    event_url: str
    selections: tuple[Selection, ...]
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "league": self.league,
            "event_id": self.event_id,
            "name": self.name,
            "home": self.home,
            "away": self.away,
            "start_time": iso_utc(self.start_time),
            "slate_date": self.slate_date,
            "event_url": self.event_url,
            "selections": [s.to_dict() for s in self.selections],
            "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, path: str = "") -> Event:
        """The event `data` holds, every field checked (its slate_date is its start's New York
        date); SnapshotError naming the field (prefixed with `path`, e.g. "events[2]")."""
        data = _object(data, path)
        provider = _id(data, "provider", path)
        league = _id(data, "league", path)
        event_id = _id(data, "event_id", path)
        start_time = _moment(data, "start_time", path)
        day = _id(data, "slate_date", path)
        if day != slate_date(start_time):
            _fail(
                _at(path, "slate_date"),
                f"expected {slate_date(start_time)!r}, the New York date of start_time "
                f"{iso_utc(start_time)}, got {brief(day)}",
            )
        meta = data.get("meta")
        if meta is not None and not isinstance(meta, dict):
            _fail(_at(path, "meta"), f"expected an object or null, got {type(meta).__name__}")
        selections_path = _at(path, "selections")
        return cls(
            provider=provider,
            league=league,
            event_id=event_id,
            name=_text(data, "name", path),
            home=_text(data, "home", path),
            away=_text(data, "away", path),
            start_time=start_time,
            slate_date=day,
            event_url=_text(data, "event_url", path),
            selections=tuple(
                Selection.from_dict(s, path=f"{selections_path}[{i}]")
                for i, s in enumerate(_list(data, "selections", path))
            ),
            meta=dict(meta or {}),
        )


@dataclass(frozen=True, slots=True)
class Snapshot:
    provider: str
    league: str
    slate_date: str
    created_at: datetime
    events: tuple[Event, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA_VERSION,
            "provider": self.provider,
            "league": self.league,
            "slate_date": self.slate_date,
            "created_at": iso_utc(self.created_at),
            "events": [e.to_dict() for e in self.events],
        }

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict(), option=orjson.OPT_INDENT_2)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Snapshot:
        """The snapshot `data` holds, every value checked: ids (ids.py), markets and sides,
        prices, lines, zoned times, and each event's provider and league are the snapshot's.
        Anything else is a SnapshotError naming the field's path and value in one line."""
        if not isinstance(data, dict):
            raise SnapshotError(f"a snapshot is a JSON object, not {type(data).__name__}")
        if data.get("schema") != SCHEMA_VERSION:
            raise SnapshotError(f"unsupported snapshot schema {brief(data.get('schema'))}")
        try:
            provider = _id(data, "provider", "")
            league = _id(data, "league", "")
            day = _id(data, "slate_date", "")
            created_at = _moment(data, "created_at", "")
            events = []
            for i, raw in enumerate(_list(data, "events", "")):
                path = f"events[{i}]"
                event = Event.from_dict(raw, path=path)
                # An event of another book or league would be watched (and written) as this one.
                # Its file is named by the slate: an event of another slate would be written
                # where a restart does not look for it.
                for key, held, expected in (
                    ("provider", event.provider, provider),
                    ("league", event.league, league),
                    ("slate_date", event.slate_date, day),
                ):
                    if held != expected:
                        problem = f"expected {expected!r} (the snapshot's), got {brief(held)}"
                        _fail(f"{path}.{key}", problem)
                events.append(event)
            return cls(provider, league, day, created_at, tuple(events))
        except SnapshotError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:  # a check forgotten
            raise SnapshotError(f"malformed snapshot: {exc!r}") from exc

    @classmethod
    def from_json(cls, raw: bytes | str) -> Snapshot:
        return cls.from_dict(orjson.loads(raw))


# Not frozen: a frozen dataclass's __init__ costs about 5x as much, and one of these is made
# per change on the monitor's hot path. Nothing mutates a record once made.
@dataclass(slots=True)
class Price:
    line: float | None
    odds_american: int
    odds_decimal: float


_ODDS_PREFIX = b'{"type":"odds",'
_HEARTBEAT_PREFIX = b'{"type":"heartbeat",'


@dataclass(slots=True)  # not frozen: see Price
class OddsUpdate:
    """One change of line or price of a watched selection."""

    provider: str
    league: str
    event_id: str
    slate_date: str
    selection_id: str
    market: Market
    side: Side
    line: float | None
    odds_american: int
    odds_decimal: float
    previous: Price | None
    source_ts: str | None
    received_at: str
    # Where the message that carried it is kept in the raw archive: "<segment>#<entry>" (see
    # snuper.archive); None when the monitor did not archive.
    raw_ref: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"type": "odds", **asdict(self)}

    def to_json(self) -> bytes:
        # Hot path (one per record): orjson reads the dataclass itself, in field order; the
        # record type goes first, as in to_dict. No asdict, no deep copy.
        return _ODDS_PREFIX + orjson.dumps(self)[1:]


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """Written for an event that has been quiet for the heartbeat interval."""

    provider: str
    league: str
    event_id: str
    slate_date: str
    received_at: str
    messages: int
    updates: int
    bytes: int
    idle_s: float

    def to_dict(self) -> dict[str, Any]:
        return {"type": "heartbeat", **asdict(self)}

    def to_json(self) -> builtins.bytes:  # the field `bytes` shadows the builtin here
        return _HEARTBEAT_PREFIX + orjson.dumps(self)[1:]


_RAW_PREFIX = b'{"type":"raw",'


def _jsonable(value: object) -> object:
    """What orjson cannot render itself in a decoded provider message (msgpack bin, ext)."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return repr(value)


@dataclass(slots=True)
class RawMessage:
    """The provider message that carried changes of an event, decoded as received (msgpack
    rendered as JSON types), once per message and event. Made only for sinks that keep raw
    messages (`Sink.wants_raw`); the others never see one."""

    provider: str
    league: str
    event_id: str
    slate_date: str
    received_at: str
    payload: Any

    def to_dict(self) -> dict[str, Any]:
        return orjson.loads(self.to_json())  # type: ignore[no-any-return]

    def to_json(self) -> bytes:
        return _RAW_PREFIX + orjson.dumps(self, default=_jsonable)[1:]


Record = OddsUpdate | Heartbeat | RawMessage


def record_key(record: Record) -> str:
    """A record's idempotency key: the digest of its JSON. Two records are the same write
    exactly when their JSON is the same (received_at has microseconds), so a batch passed
    again, or replayed from a spill file, is recognised and stored once."""
    return json_key(record.to_json())


def json_key(encoded: bytes) -> str:
    """record_key of a record already encoded (to_json), for a sink that encodes it anyway."""
    return hashlib.blake2b(encoded, digest_size=16).hexdigest()


def record_from_dict(data: Mapping[str, Any]) -> Record:
    """The record a `to_dict` (or its JSON) came from; SnapshotError names a bad field."""
    kind = data.get("type")
    fields = {k: v for k, v in data.items() if k != "type"}
    try:
        if kind == "odds":
            previous = fields.get("previous")
            fields["previous"] = None if previous is None else Price(**previous)
            return OddsUpdate(**fields)
        if kind == "heartbeat":
            return Heartbeat(**fields)
        if kind == "raw":
            return RawMessage(**fields)
    except TypeError as exc:
        raise SnapshotError(f"record of type {kind!r}: {exc}") from None
    raise SnapshotError(f"type: expected odds, heartbeat or raw, got {brief(kind)}")


def record_from_json(raw: bytes | str) -> Record:
    data = orjson.loads(raw)
    if not isinstance(data, dict):
        raise SnapshotError(f"record: expected an object, got {type(data).__name__}")
    return record_from_dict(data)


@dataclass(frozen=True, slots=True)
class LastPrice:
    """The last price a sink recorded for one side of one market of an event: where a
    restarted monitor resumes, so it writes only real changes, with the right `previous`."""

    event_id: str
    market: Market
    side: Side
    selection_id: str  # the current id (a line move gives the selection a new one)
    line: float | None
    odds_american: int
    odds_decimal: float

    @classmethod
    def from_odds(cls, data: Mapping[str, Any], event_id: str) -> LastPrice | None:
        """An odds record (its dict, as stored) of `event_id` as a LastPrice; None for any
        other record and for one that cannot be read (a hand edit, a torn line)."""
        try:
            if data.get("type", "odds") != "odds" or data.get("event_id", event_id) != event_id:
                return None
            line = data["line"]
            return cls(
                event_id=event_id,
                market=data["market"],
                side=data["side"],
                selection_id=str(data["selection_id"]),
                line=None if line is None else float(line),
                odds_american=int(data["odds_american"]),
                odds_decimal=float(data["odds_decimal"]),
            )
        except (AttributeError, KeyError, TypeError, ValueError):
            return None
