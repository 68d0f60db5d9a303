"""Bovada, pure: the coupon JSON -> Events, and an Atmosphere websocket frame -> FeedBatch.

Shapes are in docs/wire-formats.md (Bovada). No I/O here. The coupon is read whole (every event,
display group, market and outcome, whatever its kind: the soccer captures must read without an
error); the main lines are then chosen from it. Unknown fields, market kinds, outcome types and
descriptor types are ignored; a required field that is missing or of the wrong type raises
ParseError naming its path (e.g. `[0].events[1].displayGroups[0].markets[2].outcomes[0].price`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

import orjson

from snuper.feed import FeedBatch, FeedItem, MarketStatus, ParseError, Quote, Removed
from snuper.ids import IdField
from snuper.model import Event, Market, Side
from snuper.providers.fields import (
    american,
    at,
    book_id,
    decimal,
    line,
    obj,
    opt_list,
    req,
    req_list,
    req_str,
)
from snuper.providers.lines import Line, line_order
from snuper.providers.lines import selections as to_selections
from snuper.slate import slate_date

PROVIDER: Final = "bovada"


@dataclass(frozen=True, slots=True)
class LeagueIds:
    path: str  # the coupon's description path, and the site's league page


LEAGUES: dict[str, LeagueIds] = {
    "nba": LeagueIds("basketball/nba"),
    "nfl": LeagueIds("football/nfl"),
    "mlb": LeagueIds("baseball/mlb"),
}

# market key -> kind. Two-way keys only: the soccer 3-way moneyline (3W-1X2) is not a main line
# of ours, and props (GAME-PROP-*) are not collected.
KINDS: Final[dict[str, Market]] = {"2W-12": "moneyline", "2W-HCAP": "spread", "2W-OU": "total"}
SIDES: Final[dict[str, Side]] = {"H": "home", "A": "away", "O": "over", "U": "under"}
# The whole game's period: "G" for the US leagues, "RT" (regulation time) in the soccer captures.
# A period that says `main` is believed first; the abbreviation decides when `main` is absent.
MAIN_PERIODS: Final = frozenset({"G", "RT"})
OPEN: Final = "O"  # market status: O open; S suspended, and anything else counts as not open


@dataclass(frozen=True, slots=True)
class Outcome:
    outcome_id: str
    description: str
    type: str | None  # H, A, O, U; props and 3-way markets use others (D, X, EV ...)
    american: int
    decimal: float
    line: float | None


@dataclass(frozen=True, slots=True)
class BovadaMarket:
    market_id: str
    key: str
    description: str
    status: str
    period: str  # its abbreviation: G, RT, 1H, F5 ...
    period_main: bool | None
    outcomes: tuple[Outcome, ...]

    @property
    def is_main_period(self) -> bool:
        if self.period_main is not None:
            return self.period_main
        return self.period in MAIN_PERIODS


@dataclass(frozen=True, slots=True)
class DisplayGroup:
    group_id: str
    description: str
    alternate: bool
    markets: tuple[BovadaMarket, ...]


@dataclass(frozen=True, slots=True)
class CouponEvent:
    event_id: str
    description: str
    link: str
    start: datetime
    home: str
    away: str
    groups: tuple[DisplayGroup, ...]


# -- the coupon -----------------------------------------------------------------------------------


def parse_coupon(payload: object) -> list[CouponEvent]:
    """The coupon answer (a list of groups, each with `path` and `events`) -> every event."""
    if not isinstance(payload, list):
        raise ParseError("coupon", f"expected a list of groups, got {type(payload).__name__}")
    events: list[CouponEvent] = []
    for g, value in enumerate(payload):
        group = obj(value, f"[{g}]")
        for i, event in enumerate(req_list(group, "events", f"[{g}]")):
            events.append(parse_event(event, f"[{g}].events[{i}]"))
    return events


def parse_event(value: object, path: str = "event") -> CouponEvent:
    """One coupon event (the `event` endpoint answers one on its own)."""
    body = obj(value, path)
    event_id = book_id("event_id", body, "id", path)
    description = req_str(body, "description", path)
    start_ms = req(body, "startTime", path)
    if isinstance(start_ms, bool) or not isinstance(start_ms, int | float):
        raise ParseError(at(path, "startTime"), f"expected epoch milliseconds, got {start_ms!r}")
    try:
        start = datetime.fromtimestamp(start_ms / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        raise ParseError(at(path, "startTime"), f"not a time: {start_ms!r}") from None
    home, away = _teams(body, description, path)
    groups = tuple(
        _group(g, f"{at(path, 'displayGroups')}[{i}]")
        for i, g in enumerate(opt_list(body, "displayGroups", path))
    )
    link = body.get("link")
    return CouponEvent(
        event_id, description, link if isinstance(link, str) else "", start, home, away, groups
    )


def main_lines(event: CouponEvent) -> tuple[list[Line], frozenset[str]]:
    """The event's main lines (game period, main group, not alternate; the first market of each
    kind) in market then side order, and the ids of those markets that are not open."""
    lines: list[Line] = []
    suspended: set[str] = set()
    seen: set[Market] = set()
    for group in event.groups:
        if group.alternate:
            continue
        for market in group.markets:
            kind = main_kind(market)
            if kind is None or kind in seen:
                continue
            found = _sides(market, kind)
            if found is None:
                continue
            seen.add(kind)
            lines.extend(found)
            if market.status != OPEN:
                suspended.add(market.market_id)
    lines.sort(key=line_order)
    return lines, frozenset(suspended)


def main_kind(market: BovadaMarket) -> Market | None:
    """The kind of a main-line market, None for anything else (other kinds, other periods)."""
    kind = KINDS.get(market.key)
    return kind if kind is not None and market.is_main_period else None


def to_event(event: CouponEvent, league: str, site_base: str) -> Event:
    """The snapshot's Event; `meta` keeps the ids the monitor subscribes with and reads."""
    lines, _ = main_lines(event)
    selections = to_selections(lines)
    return Event(
        provider=PROVIDER,
        league=league,
        event_id=event.event_id,
        name=event.description,
        home=event.home,
        away=event.away,
        start_time=event.start,
        slate_date=slate_date(event.start),
        event_url=f"{site_base.rstrip('/')}/sports{event.link}" if event.link else "",
        selections=selections,
        meta={
            "market_ids": {s.kind: s.market_id for s in lines},
            "outcome_ids": [s.selection_id for s in lines],
            "link": event.link,
        },
    )


def _teams(body: Mapping[str, Any], description: str, path: str) -> tuple[str, str]:
    home = away = None
    for i, value in enumerate(opt_list(body, "competitors", path)):
        where = f"{at(path, 'competitors')}[{i}]"
        competitor = obj(value, where)
        name = req_str(competitor, "name", where)
        if competitor.get("home") is True:
            home = name
        elif competitor.get("home") is False:
            away = name
    if home is None or away is None:
        # US naming is "Away @ Home"; the soccer captures say "Home vs Away".
        left, sep, right = description.partition(" @ ")
        if sep:
            away, home = away or left.strip(), home or right.strip()
        else:
            left, sep, right = description.partition(" vs ")
            if not sep:
                raise ParseError(at(path, "competitors"), f"no home/away in {description!r}")
            home, away = home or left.strip(), away or right.strip()
    return home, away


def _group(value: object, path: str) -> DisplayGroup:
    body = obj(value, path)
    description = body.get("description")
    description = description if isinstance(description, str) else ""
    # The docs flag alternates with alternateType, but the real capture's "Alternate Lines"
    # group says alternateType false: its description decides too.
    alternate = body.get("alternateType") is True or "alternate" in description.lower()
    markets = tuple(
        _market(m, f"{at(path, 'markets')}[{i}]")
        for i, m in enumerate(opt_list(body, "markets", path))
    )
    return DisplayGroup(str(body.get("id", "")), description, alternate, markets)


def _market(value: object, path: str) -> BovadaMarket:
    body = obj(value, path)
    # Market ids are digits on game lines and free text on some alternates
    # ("G-2W-HCAP.Handicap - Asian.100"): any string here; checked when it becomes a selection's.
    market_id = _text_id(body, path)
    period = body.get("period")
    abbreviation, main = "", None
    if isinstance(period, Mapping):
        abbreviation = str(period.get("abbreviation") or "")
        main = period["main"] if isinstance(period.get("main"), bool) else None
    status = body.get("status")
    outcomes = tuple(
        parse_outcome(o, f"{at(path, 'outcomes')}[{i}]")
        for i, o in enumerate(opt_list(body, "outcomes", path))
    )
    return BovadaMarket(
        market_id,
        str(body.get("key") or ""),
        str(body.get("description") or ""),
        status if isinstance(status, str) else OPEN,
        abbreviation,
        main,
        outcomes,
    )


def parse_outcome(value: object, path: str) -> Outcome:
    body = obj(value, path)
    outcome_id = _text_id(body, path)
    price_path = at(path, "price")
    price = obj(req(body, "price", path), price_path)
    odds = american(req(price, "american", price_path), at(price_path, "american"))
    kind = body.get("type")
    description = body.get("description")
    return Outcome(
        outcome_id,
        description if isinstance(description, str) else "",
        kind if isinstance(kind, str) else None,
        odds,
        decimal(price.get("decimal"), odds, at(price_path, "decimal")),
        _handicap(price, price_path),
    )


def _handicap(price: Mapping[str, Any], path: str) -> float | None:
    first = line(price.get("handicap"), at(path, "handicap"))
    second = line(price.get("handicap2"), at(path, "handicap2"))
    if first is None or second is None:
        return first
    # A split (Asian quarter) line: handicap 4.5 and handicap2 5.0 is the 4.75 line.
    return (first + second) / 2


def _sides(market: BovadaMarket, kind: Market) -> list[Line] | None:
    """The market's two sides, or None when it is not a two-way main line (an alternate's
    list of handicaps, a market with a side missing)."""
    wanted: tuple[Side, Side] = ("over", "under") if kind == "total" else ("home", "away")
    found: dict[Side, Outcome] = {}
    for outcome in market.outcomes:
        side = SIDES.get(outcome.type or "")
        if side is None or side not in wanted or side in found:
            return None
        found[side] = outcome
    if len(found) != 2:
        return None
    lines: list[Line] = []
    # A total has one line: a side that does not repeat it takes the other's.
    shared = next((o.line for o in found.values() if o.line is not None), None)
    for side in wanted:
        outcome = found[side]
        own = shared if kind == "total" and outcome.line is None else outcome.line
        if kind != "moneyline" and own is None:
            return None  # a spread or total without its line is not a line we can record
        lines.append(
            Line(
                _checked("market_id", market.market_id),
                kind,
                side,
                _checked("selection_id", outcome.outcome_id),
                _label(kind, side, outcome.description),
                None if kind == "moneyline" else own,
                outcome.american,
                outcome.decimal,
            )
        )
    return lines


def _label(kind: Market, side: Side, description: str) -> str:
    return "Over" if side == "over" else "Under" if side == "under" else description


def _text_id(body: Mapping[str, Any], path: str) -> str:
    value = req(body, "id", path)
    if isinstance(value, bool) or not isinstance(value, int | str) or value == "":
        raise ParseError(at(path, "id"), f"expected an id, got {value!r}")
    return str(value)


def _checked(field: IdField, value: str) -> str:
    return book_id(field, {"id": value}, "id", field)


# -- the websocket --------------------------------------------------------------------------------

HEARTBEAT_ID: Final = 0
DELETES: Final[dict[str, Literal["event", "market", "selection"]]] = {
    "EVENT": "event", "MARKET": "market", "OUTCOME": "selection",
}  # fmt: skip
_IGNORED = FeedBatch("ignored")


def subscribe_message(event_id: str, since_ms: int) -> str:
    """Ask for an event's changes since `since_ms` (epoch milliseconds)."""
    return f"SUBSCRIBE|A|/events/{event_id}.{since_ms}?delta=true"


def unsubscribe_message(event_id: str) -> str:
    return f"UNSUBSCRIBE|{event_id}"


def parse_frame(message: bytes | str) -> FeedBatch:
    """One server frame -> its FeedBatch.

    The framing is inferred (no raw frame is public): `descriptor|payload` pairs joined by `|`,
    a descriptor `{eventId, type, target[, parentId][, mode]}`; a frame that is only `{"id":0}`
    is the server's heartbeat: traffic, never data. Descriptor types this parser does not know
    are skipped; a frame that is not such pairs is a ParseError."""
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
    segments = _segments(text)
    if len(segments) == 1 and segments[0] == {"id": HEARTBEAT_ID}:
        return _IGNORED
    if len(segments) % 2:
        raise ParseError("frame", f"expected descriptor|payload pairs, got {len(segments)} parts")
    items: list[FeedItem] = []
    for n in range(0, len(segments), 2):
        _segment(segments[n], segments[n + 1], f"frame[{n}]", items)
    return FeedBatch("update", tuple(items), raw=segments)


def _segments(text: str) -> list[Any]:
    """The frame's JSON values. The fast way splits on `|`; a `|` inside a JSON string (a
    market description) makes a piece unreadable, and the values are then read one by one."""
    pieces = text.split("|")
    try:
        return [orjson.loads(piece) for piece in pieces]
    except orjson.JSONDecodeError:
        pass
    decoder = json.JSONDecoder()
    values: list[Any] = []
    pos = 0
    while True:
        try:
            value, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise ParseError(f"frame[{len(values)}]", f"not JSON ({exc.msg})") from None
        values.append(value)
        if pos == len(text):
            return values
        if text[pos] != "|":
            raise ParseError(f"frame[{len(values)}]", f"expected '|' at {pos}")
        pos += 1


def _segment(descriptor: object, payload: object, path: str, items: list[FeedItem]) -> None:
    head = obj(descriptor, path)
    kind = req_str(head, "type", path)
    target = str(req(head, "target", path))
    data = obj(payload, f"{path}+1")
    if head.get("mode") == "DELETE":
        removed = DELETES.get(kind)
        if removed is not None:
            items.append(Removed(removed, target))
        return
    if kind == "OUTCOME":
        if data.get("price") is None:
            return  # a status-only outcome change: the market's status says what matters
        outcome = parse_outcome(data, f"{path}+1")
        items.append(Quote(outcome.outcome_id, outcome.american, outcome.decimal, outcome.line))
    elif kind == "MARKET_STATUS":
        status = req_str(data, "status", f"{path}+1")
        items.append(MarketStatus(target, status != OPEN))
    elif kind == "MARKET":
        market = _market(data, f"{path}+1")
        market_kind = main_kind(market)
        found = _sides(market, market_kind) if market_kind is not None else None
        if found is None:
            return  # not a main line: nobody watches it
        items.append(MarketStatus(market.market_id, market.status != OPEN))
        for s in found:
            items.append(Quote(s.selection_id, s.american, s.decimal, s.line, s.market_id, None,
                               s.label))  # fmt: skip
    # Other descriptor types (scores, clock, event details) carry nothing we record.
