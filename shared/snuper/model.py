"""The records every sink writes (design.md §3), with their JSON form."""

from __future__ import annotations

import builtins
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

import orjson

from snuper.slate import iso_utc, parse_iso

SCHEMA_VERSION = 1
Market = Literal["spread", "moneyline", "total"]
Side = Literal["home", "away", "over", "under"]
MARKETS: tuple[Market, ...] = ("spread", "moneyline", "total")
SIDES: tuple[Side, ...] = ("home", "away", "over", "under")


class SnapshotError(ValueError):
    """A stored snapshot that does not have the documented shape."""


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
    def from_dict(cls, data: dict[str, Any]) -> Selection:
        line = data["line"]
        return cls(
            selection_id=str(data["selection_id"]),
            market_id=str(data["market_id"]),
            market=data["market"],
            side=data["side"],
            label=str(data["label"]),
            line=None if line is None else float(line),
            odds_american=int(data["odds_american"]),
            odds_decimal=float(data["odds_decimal"]),
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
    def from_dict(cls, data: dict[str, Any]) -> Event:
        return cls(
            provider=str(data["provider"]),
            league=str(data["league"]),
            event_id=str(data["event_id"]),
            name=str(data["name"]),
            home=str(data["home"]),
            away=str(data["away"]),
            start_time=parse_iso(data["start_time"]),
            slate_date=str(data["slate_date"]),
            event_url=str(data["event_url"]),
            selections=tuple(Selection.from_dict(s) for s in data["selections"]),
            meta=dict(data.get("meta") or {}),
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
        if not isinstance(data, dict):
            raise SnapshotError(f"a snapshot is a JSON object, not {type(data).__name__}")
        if data.get("schema") != SCHEMA_VERSION:
            raise SnapshotError(f"unsupported snapshot schema {data.get('schema')!r}")
        try:
            return cls(
                provider=str(data["provider"]),
                league=str(data["league"]),
                slate_date=str(data["slate_date"]),
                created_at=parse_iso(data["created_at"]),
                events=tuple(Event.from_dict(e) for e in data["events"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise SnapshotError(f"malformed snapshot: {exc!r}") from exc

    @classmethod
    def from_json(cls, raw: bytes | str) -> Snapshot:
        return cls.from_dict(orjson.loads(raw))


@dataclass(frozen=True, slots=True)
class Price:
    line: float | None
    odds_american: int
    odds_decimal: float


@dataclass(frozen=True, slots=True)
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

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data = {"type": "odds", **data}
        return data

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict())


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
        return orjson.dumps(self.to_dict())


Record = OddsUpdate | Heartbeat
