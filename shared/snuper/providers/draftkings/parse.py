"""DraftKings, pure: sportscontent REST JSON -> Events, live socket frames -> FeedBatch.

Shapes are in docs/wire-formats.md (DraftKings, and "What the real captures add"). No I/O here.
"""

from __future__ import annotations

import functools
import math
import reprlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, Final, Literal
from urllib.parse import quote

import msgpack
import orjson

from snuper.feed import FeedBatch, FeedItem, MarketStatus, ParseError, Quote, Removed
from snuper.ids import FULLMATCH, IdField, check_id, id_problem
from snuper.model import Event, Market, Selection, Side
from snuper.odds import OddsError, american_to_decimal, parse_american, parse_line
from snuper.providers.lines import KIND_ORDER, SIDE_RANK
from snuper.slate import normalise_ts, parse_iso, slate_date


@dataclass(frozen=True, slots=True)
class LeagueIds:
    league_id: str
    subcategory_id: str  # the "game lines" subcategory
    path: str  # the site's league page, /leagues/<path>


LEAGUES: dict[str, LeagueIds] = {
    "nba": LeagueIds("42648", "4511", "basketball/nba"),
    "nfl": LeagueIds("88808", "4518", "football/nfl"),
    "mlb": LeagueIds("84240", "4519", "baseball/mlb"),
}

BET_OFFER_KINDS: Final[dict[int, Market]] = {2: "moneyline", 1: "spread", 6: "total"}
PREFIX_KINDS: Final[dict[str, Market]] = {"1_": "moneyline", "2_": "spread", "3_": "total"}
MAIN_TAGS: Final = frozenset({"PrimaryMarket", "MainPointLine"})
OUTCOME_SIDES: Final[dict[str, Side]] = {
    "Home": "home",
    "Away": "away",
    "Over": "over",
    "Under": "under",
}

# Selection-id suffixes: _1 home/over, _3 away/under (wire-formats.md, confirmed by the captures).
_SUFFIX_SIDES: Final[dict[tuple[bool, str], Side]] = {
    (False, "_1"): "home",
    (False, "_3"): "away",
    (True, "_1"): "over",
    (True, "_3"): "under",
}


# ---------------------------------------------------------------------------------------------
# REST: /api/sportscontent/<site>/v1/leagues/<leagueId>
# ---------------------------------------------------------------------------------------------


def parse_league(
    payload: Mapping[str, Any], league: str, *, site_base: str, provider: str = "draftkings"
) -> list[Event]:
    """One Event per payload event of `league` with its main-line selections, by (start, id)."""
    ids = LEAGUES.get(league)
    if ids is None:
        raise ValueError(f"unknown DraftKings league {league!r} (known: {', '.join(LEAGUES)})")
    check_id("provider", provider)
    if not isinstance(payload, Mapping):
        raise ParseError("payload", "expected a JSON object")
    raw_events = _list_field(payload, "events", required=True)
    raw_markets = _list_field(payload, "markets", required=False)
    raw_selections = _list_field(payload, "selections", required=False)
    base = site_base.rstrip("/")

    heads: dict[str, _Head] = {}
    for i, raw in enumerate(raw_events):
        path = f"events[{i}]"
        obj = _obj(raw, path)
        league_id = obj.get("leagueId")
        if league_id is not None and str(league_id) != ids.league_id:
            continue
        head = _event_head(obj, path)
        heads[head.event_id] = head

    # (event id, kind) -> market id; a market tagged as the main line beats an untagged one.
    chosen: dict[tuple[str, Market], tuple[str, bool]] = {}
    for i, raw in enumerate(raw_markets):
        path = f"markets[{i}]"
        obj = _obj(raw, path)
        market_id = _req_id(obj, "id", path)
        event_id = _req_id(obj, "eventId", path)
        if event_id not in heads:
            continue
        sub = obj.get("subcategoryId")
        if sub is not None and str(sub) != ids.subcategory_id:
            continue  # e.g. 1st-half lines when the whole league was loaded
        kind = _market_kind(obj, market_id)
        if kind is None:
            continue
        _check_id("market_id", market_id, f"{path}.id")  # one we keep: it enters the snapshot
        tags = obj.get("tags")
        tagged = isinstance(tags, list) and any(t in MAIN_TAGS for t in tags if isinstance(t, str))
        current = chosen.get((event_id, kind))
        if current is None or (tagged and not current[1]):
            chosen[(event_id, kind)] = (market_id, tagged)
    market_of: dict[str, tuple[str, Market]] = {
        market_id: key for key, (market_id, _) in chosen.items()
    }

    picked: dict[str, list[tuple[int, int, int, Selection]]] = {}
    for i, raw in enumerate(raw_selections):
        path = f"selections[{i}]"
        obj = _obj(raw, path)
        selection_id = _req_id(obj, "id", path)
        market_id = _req_id(obj, "marketId", path)
        owner = market_of.get(market_id)
        if owner is None:
            continue  # not a main-line market of a listed event
        event_id, kind = owner
        _check_id("selection_id", selection_id, f"{path}.id")
        selection = _rest_selection(obj, path, selection_id, market_id, kind)
        if selection is None:
            continue
        rank = (KIND_ORDER[kind], SIDE_RANK[selection.side], i, selection)
        picked.setdefault(event_id, []).append(rank)

    events = []
    for event_id, head in heads.items():
        selections = tuple(s for *_, s in sorted(picked.get(event_id, ()), key=_rank_key))
        market_ids = {
            kind: chosen[(event_id, kind)][0] for kind in KIND_ORDER if (event_id, kind) in chosen
        }
        events.append(
            Event(
                provider=provider,
                league=league,
                event_id=event_id,
                name=head.name,
                home=head.home,
                away=head.away,
                start_time=head.start,
                slate_date=slate_date(head.start),
                event_url=f"{base}/event/{head.seo}/{event_id}",
                selections=selections,
                meta={
                    "league_id": ids.league_id,
                    "subcategory_id": ids.subcategory_id,
                    "market_ids": market_ids,
                },
            )
        )
    events.sort(key=lambda e: (e.start_time, e.event_id))
    return events


@dataclass(frozen=True, slots=True)
class _Head:
    event_id: str
    name: str
    home: str
    away: str
    start: datetime
    seo: str


def _rank_key(item: tuple[int, int, int, Selection]) -> tuple[int, int, int]:
    return item[0], item[1], item[2]


def _event_head(obj: Mapping[str, Any], path: str) -> _Head:
    event_id = _check_id("event_id", _req_id(obj, "id", path), f"{path}.id")
    start_raw = obj.get("startEventDate")
    if not isinstance(start_raw, str):
        raise ParseError(f"{path}.startEventDate", _missing_or_type(start_raw, "an ISO date"))
    try:
        start = parse_iso(start_raw)
    except ValueError:
        raise ParseError(f"{path}.startEventDate", f"not an ISO date: {start_raw!r}") from None
    participants = obj.get("participants")
    if not isinstance(participants, list):
        raise ParseError(f"{path}.participants", _missing_or_type(participants, "a list"))
    home = away = ""
    for j, raw in enumerate(participants):
        p_path = f"{path}.participants[{j}]"
        part = _obj(raw, p_path)
        role = part.get("venueRole")
        if role == "Home":
            home = _req_str(part, "name", p_path)
        elif role == "Away":
            away = _req_str(part, "name", p_path)
    name_raw = obj.get("name")
    name = name_raw if isinstance(name_raw, str) and name_raw else ""
    if (not home or not away) and " @ " in name:
        # No venue roles: DraftKings names US games "Away @ Home".
        guess_away, _, guess_home = name.partition(" @ ")
        home, away = home or guess_home.strip(), away or guess_away.strip()
    if not home or not away:
        raise ParseError(f"{path}.participants", "no Home and Away participant")
    name = name or f"{away} @ {home}"
    seo_raw = obj.get("seoIdentifier")
    # The site's own slugs look like "tb-buccaneers-%40-dal-cowboys".
    seo = seo_raw if isinstance(seo_raw, str) and seo_raw else quote("-".join(name.lower().split()))
    return _Head(event_id, name, home, away, start, seo)


def _market_kind(obj: Mapping[str, Any], market_id: str) -> Market | None:
    market_type = obj.get("marketType")
    offer = market_type.get("betOfferTypeId") if isinstance(market_type, Mapping) else None
    if offer is None:
        return PREFIX_KINDS.get(market_id[:2])
    if isinstance(offer, str) and offer.isdigit():
        offer = int(offer)
    return BET_OFFER_KINDS.get(offer) if isinstance(offer, int) else None


def _rest_selection(
    obj: Mapping[str, Any], path: str, selection_id: str, market_id: str, kind: Market
) -> Selection | None:
    side = _side(kind, obj.get("outcomeType"), selection_id, path)
    if side is None:
        return None
    odds = obj.get("displayOdds")
    if not isinstance(odds, Mapping):
        raise ParseError(f"{path}.displayOdds", _missing_or_type(odds, "an object"))
    american_raw = odds.get("american")
    if american_raw is None:
        raise ParseError(f"{path}.displayOdds.american", "missing")
    american = _american(american_raw, f"{path}.displayOdds.american")
    line = None
    if kind != "moneyline":
        points = obj.get("points")
        if points is None:
            raise ParseError(f"{path}.points", "missing")  # a spread/total needs its line
        line = _line(points, f"{path}.points")
    label = obj.get("label")
    return Selection(
        selection_id=selection_id,
        market_id=market_id,
        market=kind,
        side=side,
        label=label if isinstance(label, str) else "",
        line=line,
        odds_american=american,
        odds_decimal=_decimal(odds.get("decimal"), american),
    )


def _side(kind: Market, outcome: object, selection_id: str, path: str) -> Side | None:
    """The side by outcomeType; an unknown outcome (a draw) is not ours and returns None."""
    is_total = kind == "total"
    if outcome is not None:
        side = OUTCOME_SIDES.get(outcome) if isinstance(outcome, str) else None
        if side is None or (side in ("over", "under")) != is_total:
            return None
        return side
    # No outcomeType: inferred from the id suffix (_1 home/over, _3 away/under), per wire-formats.
    inferred = _SUFFIX_SIDES.get((is_total, selection_id[-2:]))
    if inferred is None:
        raise ParseError(f"{path}.outcomeType", "missing, and the id does not tell the side")
    return inferred


def _list_field(payload: Mapping[str, Any], key: str, *, required: bool) -> list[Any]:
    value = payload.get(key)
    if value is None and not required:
        return []
    if not isinstance(value, list):
        raise ParseError(key, _missing_or_type(value, "a list"))
    return value


def _obj(value: object, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ParseError(path, f"expected an object, got {type(value).__name__}")
    return value


def _req_str(obj: Mapping[str, Any], key: str, path: str) -> str:
    value = obj.get(key)
    if isinstance(value, str) and value:
        return value
    raise ParseError(f"{path}.{key}", _missing_or_type(value, "a non-empty string"))


def _req_id(obj: Mapping[str, Any], key: str, path: str) -> str:
    value = obj.get(key)
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise ParseError(f"{path}.{key}", _missing_or_type(value, "an id"))


def _missing_or_type(value: object, expected: str) -> str:
    return "missing" if value is None else f"expected {expected}, got {type(value).__name__}"


# Every id that reaches a snapshot, a record or the engine's indexes is checked here (ids.py):
# one precompiled fullmatch per id, and an error text only for an id that fails. REST (what we
# keep) raises ParseError for a bad id; a live frame skips the item with a bad id and keeps the
# rest of the frame (one odd prop id must not drop every watched quote in the frame).
_MARKET_ID_OK: Final = FULLMATCH["market_id"]
_SELECTION_ID_OK: Final = FULLMATCH["selection_id"]
_REMOVED_FIELD: Final[dict[str, IdField]] = {
    "event": "event_id",
    "market": "market_id",
    "selection": "selection_id",
}


def _check_id(field: IdField, value: str, path: str) -> str:
    """`value` when it is a valid `field` (ids.py), else ParseError naming `path`."""
    if FULLMATCH[field](value) is None:
        raise _bad_id(field, value, path)
    return value


def _bad_id(field: IdField, value: object, path: str) -> ParseError:
    return ParseError(path, id_problem(field, value) or "not a valid id")


# ---------------------------------------------------------------------------------------------
# Shared value parsing (REST and socket)
# ---------------------------------------------------------------------------------------------


def _american(value: object, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ParseError(path, f"expected American odds, got {type(value).__name__}")
    try:
        return parse_american(value)
    except OddsError as exc:
        raise ParseError(path, str(exc)) from None


def _line(value: object, path: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ParseError(path, f"expected a line, got {type(value).__name__}")
    try:
        return parse_line(value)
    except OddsError as exc:
        raise ParseError(path, str(exc)) from None


def _decimal(value: object, american: int) -> float:
    """The book's own decimal ("1.91") when usable, else converted from American (optional)."""
    decimal = 0.0
    if isinstance(value, str):
        try:
            decimal = float(value)
        except ValueError:
            decimal = 0.0
    elif isinstance(value, int | float) and not isinstance(value, bool):
        decimal = float(value)
    if 1.0 < decimal < math.inf:
        return decimal
    return american_to_decimal(american)


# ---------------------------------------------------------------------------------------------
# Live socket: subscribe messages and frame decoding
# ---------------------------------------------------------------------------------------------

CLIENT_METADATA: Final = {
    "feature": "league",
    "X-Client-Name": "web",
    "X-Client-Version": "2640.4.1.8",
}


def subscribe_message(
    sub_id: str,
    *,
    league_id: str,
    subcategory_id: str,
    site_name: str,
    initial_data: bool = True,
) -> bytes:
    """The league page's own subscription (entity events, game-lines markets), msgpack-encoded."""
    message = {
        "jsonrpc": "2.0",
        "method": "subscribe",
        "id": sub_id,
        "params": {
            "entity": "events",
            "queryParams": {
                "query": (
                    f"$filter=leagueId eq '{league_id}' AND "
                    f"clientMetadata/Subcategories/any(s: s/Id eq '{subcategory_id}')"
                ),
                "includeMarkets": (
                    f"$filter=clientMetadata/subCategoryId eq '{subcategory_id}' AND "
                    "tags/all(t: t ne 'SportcastBetBuilder')"
                ),
                "initialData": initial_data,
                "projection": "sportsbook",
                "locale": "en",
            },
            "forwardedHeaders": {},
            "clientMetadata": dict(CLIENT_METADATA),
            "jwt": "default-token",
            "siteName": site_name,
        },
    }
    packed: bytes = msgpack.packb(message, use_bin_type=True)
    return packed


def sent_subscription(message: bytes | str) -> tuple[str, str, bool] | None:
    """(sub id, entity, initialData) of a subscribe message we sent (subscribe_message's
    shape); None for any other message. Replay sets the decoder up from it."""
    try:
        data = msgpack.unpackb(message) if isinstance(message, bytes) else orjson.loads(message)
    except (ValueError, TypeError):
        return None
    if not isinstance(data, dict) or data.get("method") != "subscribe":
        return None
    params = data.get("params")
    sub_id = data.get("id")
    if not isinstance(params, dict) or not isinstance(sub_id, str):
        return None
    entity = params.get("entity")
    query = params.get("queryParams")
    initial = bool(query.get("initialData")) if isinstance(query, dict) else False
    return (sub_id, entity, initial) if isinstance(entity, str) else None


def unsubscribe_message(sub_id: str) -> bytes:
    packed: bytes = msgpack.packb(
        {"jsonrpc": "2.0", "method": "unsubscribe", "id": sub_id, "params": {}}, use_bin_type=True
    )
    return packed


_ACK: Final = FeedBatch("ack")
_IGNORED: Final = FeedBatch("ignored")
_ACK_KINDS: Final = frozenset({"subscribed", "unsubscribe", "unsubscribed"})
# Entity -> positions of its (market list, selection list) in every group, and how many lists
# that entity needs at least. The inserts group of "events" holds 5 (leagues, sports): ignored.
_LAYOUT: Final[dict[str, tuple[int, int, int]]] = {"events": (1, 2, 3), "markets": (0, 1, 2)}
_Kind = Literal["event", "market", "selection"]
_DELETE_KINDS: Final[dict[str, tuple[_Kind, ...]]] = {
    "events": ("event", "market", "selection"),
    "markets": ("market", "selection"),
}
_JSON_REMOVE: Final[tuple[tuple[str, _Kind], ...]] = (
    ("events", "event"),
    ("markets", "market"),
    ("selections", "selection"),
)

TAG_EVENT_CHANGE: Final = 22
TAG_MARKET_CHANGE: Final = 23
TAG_SELECTION_CHANGE: Final = 24
TAG_MARKET_FULL: Final = 34
TAG_SELECTION_FULL: Final = 35


class FrameDecoder:
    """Decodes one socket's frames; remembers each subscription's entity, and which ones still
    await their initial data (see `track`).

    Every shape is checked explicitly and a malformed one raises ParseError naming its path;
    an item (a removal, market or selection row) whose id is not a valid id (ids.py) is skipped,
    and the rest of the frame kept. Any other exception leaving `decode` is a bug in this module,
    and is meant to surface.
    """

    __slots__ = ("_awaiting", "_entities")

    def __init__(self) -> None:
        self._entities: dict[str, str] = {}
        self._awaiting: set[str] = set()  # subscribed with initialData, no update seen yet

    def new_connection(self) -> None:
        """Forget every subscription of the previous connection: call it on each (re)connect,
        before tracking that connection's subscriptions, so the table does not grow."""
        self._entities.clear()
        self._awaiting.clear()

    def track(self, sub_id: str, entity: str, *, initial_data: bool = True) -> None:
        """Remember a subscription's entity. With initial_data (the subscribe asked for
        initialData:true) its first update is read as the book's complete current state and
        reports the events it lists in FeedBatch.events_listed."""
        self._entities[sub_id] = entity
        if initial_data:
            self._awaiting.add(sub_id)
        else:
            self._awaiting.discard(sub_id)

    @property
    def tracked(self) -> Mapping[str, str]:
        """The subscriptions tracked now (sub id -> entity), read-only."""
        return MappingProxyType(self._entities)

    def decode(self, message: bytes | str) -> FeedBatch:
        if isinstance(message, str):
            return self._decode_json(message)
        return self._decode_msgpack(message)

    def _forget(self, sub_id: object) -> None:
        if isinstance(sub_id, str):
            self._entities.pop(sub_id, None)
            self._awaiting.discard(sub_id)

    def _first_update(self, sub_id: object) -> bool:
        """True once per awaiting subscription: for its first update frame."""
        if isinstance(sub_id, str) and sub_id in self._awaiting:
            self._awaiting.discard(sub_id)
            return True
        return False

    # -- msgpack ----------------------------------------------------------------------------

    def _decode_msgpack(self, raw: bytes) -> FeedBatch:
        if not isinstance(raw, (bytes, bytearray, memoryview)):  # a tuple: faster than a union
            raise ParseError("frame", f"expected bytes or str, got {type(raw).__name__}")
        try:
            frame = msgpack.unpackb(raw, timestamp=3, strict_map_key=False)
        except (ValueError, TypeError, OverflowError) as exc:
            # What msgpack raises on bad input, found by fuzzing: ValueError and its subclasses
            # (ExtraData, FormatError, StackError, UnicodeDecodeError, a bad ext code or
            # timestamp), TypeError (an array or map as a map key), OverflowError (a timestamp
            # beyond datetime). Anything else is not "bad input" and surfaces.
            raise ParseError("frame", f"not msgpack ({type(exc).__name__})") from None
        if not isinstance(frame, list) or len(frame) < 2:
            raise ParseError("frame", "expected an array [sub_id, kind, payload, error, [ts, seq]]")
        kind = frame[1]
        error = frame[3] if len(frame) > 3 else None
        if error:  # a refused subscription: the engine treats it as a failed connection
            detail = f"{_brief(kind)} {_brief(frame[0])}: {_brief(error)}"
            return FeedBatch("error", detail=detail)
        if kind == "update":
            return self._update(frame)
        if isinstance(kind, str) and kind in _ACK_KINDS:
            if kind != "subscribed":
                self._forget(frame[0])
            return _ACK
        return _IGNORED

    def _update(self, frame: list[Any]) -> FeedBatch:
        if len(frame) < 3 or not isinstance(frame[2], list) or not frame[2]:
            raise ParseError("frame[2]", "expected an update payload [groups, _, metadata]")
        payload = frame[2]
        groups = payload[0]
        sub_id = frame[0]
        entity = self._entities.get(sub_id) if isinstance(sub_id, str) else None
        first = bool(self._awaiting) and self._first_update(sub_id)
        if groups is None or (entity is not None and entity not in _LAYOUT):
            return _IGNORED  # ContentCards: payload[0] is null and the layout differs
        if not isinstance(groups, list) or len(groups) < 3:
            raise ParseError("frame[2][0]", "expected [inserts, deletes, changes]")
        inserts, deletes, changes = groups[0], groups[1], groups[2]
        if not (isinstance(inserts, list) and isinstance(deletes, list)):
            g = 0 if not isinstance(inserts, list) else 1
            raise ParseError(f"frame[2][0][{g}]", "expected a list of entity lists")
        if not isinstance(changes, list):
            raise ParseError("frame[2][0][2]", "expected a list of entity lists")
        if entity is None:
            count = len(groups[0])
            if count in (3, 5):
                entity = "events"
            elif count == 2:
                entity = "markets"
            else:
                raise ParseError("frame[2][0][0]", f"cannot tell the entity from {count} lists")
        market_pos, selection_pos, needed = _LAYOUT[entity]
        if len(inserts) < needed or len(deletes) < needed or len(changes) < needed:
            g = 0 if len(inserts) < needed else 1 if len(deletes) < needed else 2
            raise ParseError(f"frame[2][0][{g}]", f"expected {needed} lists for {entity}")

        items: list[FeedItem] = []
        # Group order (inserts, deletes, changes) matters: a line move inserts the new selection
        # (with replacedSelectionId) before or with the delete of the old one.
        # count([]) is a C-speed "every list empty": most frames change one list of the fifteen.
        if inserts.count(_EMPTY) != len(inserts):
            self._entries(inserts, 0, market_pos, selection_pos, items)
        delete_kinds = _DELETE_KINDS[entity] if deletes.count(_EMPTY) != len(deletes) else ()
        for pos, kind in enumerate(delete_kinds):
            ids = deletes[pos]
            if not isinstance(ids, list):
                raise ParseError(f"frame[2][0][1][{pos}]", "expected a list of ids")
            if not ids:
                continue  # the usual case
            id_ok = FULLMATCH[_REMOVED_FIELD[kind]]
            for k, entity_id in enumerate(ids):
                if not isinstance(entity_id, str):
                    raise ParseError(f"frame[2][0][1][{pos}][{k}]", "expected an id string")
                if id_ok(entity_id) is not None:  # a bad id: skip that removal, not the frame
                    items.append(Removed(kind, entity_id))
        if changes.count(_EMPTY) != len(changes):
            self._entries(changes, 2, market_pos, selection_pos, items)
        listed = _initial_events(groups) if first and entity == "events" else None
        return FeedBatch(
            "update",
            tuple(items),
            _source_ts(payload[2] if len(payload) > 2 else None),
            events_listed=listed,
            raw=frame,
        )

    @staticmethod
    def _entries(
        group: list[Any], g: int, market_pos: int, selection_pos: int, items: list[FeedItem]
    ) -> None:
        # Only the market and selection lists matter; events (22) and extra lists are skipped.
        for pos in (market_pos, selection_pos):
            entries = group[pos]
            if not isinstance(entries, list):
                raise ParseError(f"frame[2][0][{g}][{pos}]", "expected a list")
            if not entries:
                continue  # the usual case: a frame changes one or two lists of the five
            for k, entry in enumerate(entries):
                if not isinstance(entry, list) or len(entry) < 2:
                    raise ParseError(f"frame[2][0][{g}][{pos}][{k}]", "expected [typeTag, fields]")
                tag = entry[0]
                handler = _HANDLED_TAGS.get(tag) if isinstance(tag, int) else None
                if handler is None:
                    continue  # 22 event change, and tags nobody has described yet
                fields = entry[1]
                if not isinstance(fields, list) or not fields:
                    raise ParseError(f"frame[2][0][{g}][{pos}][{k}][1]", "expected a fields array")
                if not isinstance(fields[0], str):
                    raise ParseError(f"frame[2][0][{g}][{pos}][{k}][1][0]", "expected an id string")
                item = handler(fields, g, pos, k)
                if item is not None:
                    items.append(item)

    # -- format=json ------------------------------------------------------------------------

    def _decode_json(self, text: str) -> FeedBatch:
        try:
            message = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise ParseError("frame", "not JSON") from None
        if not isinstance(message, dict):
            raise ParseError("frame", "expected a JSON object")
        event = message.get("event")
        if event == "update":
            return self._json_update(message)
        if isinstance(event, str) and event in _ACK_KINDS:
            if event != "subscribed":
                self._forget(message.get("id"))
            return _ACK
        return _IGNORED

    def _json_update(self, message: dict[str, Any]) -> FeedBatch:
        sub_id = message.get("id")
        entity = self._entities.get(sub_id) if isinstance(sub_id, str) else None
        first = self._first_update(sub_id)
        if entity is not None and entity not in _LAYOUT:
            return _IGNORED  # ContentCards
        data = message.get("data")
        if not isinstance(data, dict):
            raise ParseError("frame.data", "expected an object")
        body = data.get("data")
        if not isinstance(body, dict):
            raise ParseError("frame.data.data", "expected {add, remove, change}")
        items: list[FeedItem] = []
        for op in ("add", "remove", "change"):
            section = body.get(op)
            if section is None:
                continue
            if not isinstance(section, dict):
                raise ParseError(f"frame.data.data.{op}", "expected an object")
            if op == "remove":
                for key, kind in _JSON_REMOVE:
                    id_ok = FULLMATCH[_REMOVED_FIELD[kind]]
                    for k, entity_id in enumerate(_json_list(section, op, key)):
                        if not isinstance(entity_id, str):
                            raise ParseError(f"frame.data.data.remove.{key}[{k}]", "expected an id")
                        if id_ok(entity_id) is not None:  # a bad id: skip it, not the frame
                            items.append(Removed(kind, entity_id))
                continue
            for k, market in enumerate(_json_list(section, op, "markets")):
                path = f"frame.data.data.{op}.markets[{k}]"
                obj = _obj(market, path)
                market_id = _req_str(obj, "id", path)
                suspended = obj.get("isSuspended")
                if isinstance(suspended, bool) and _MARKET_ID_OK(market_id) is not None:
                    items.append(MarketStatus(market_id, suspended))
            for k, selection in enumerate(_json_list(section, op, "selections")):
                quote_ = _json_quote(selection, f"frame.data.data.{op}.selections[{k}]")
                if quote_ is not None:
                    items.append(quote_)
        listed = None
        if first and entity == "events" and not _json_says_no_initial_data(message):
            listed = _json_initial_events(body)
        return FeedBatch(
            "update",
            tuple(items),
            _source_ts(data.get("metadata")),
            events_listed=listed,
            raw=message,
        )


@dataclass(frozen=True, slots=True)
class _SelectionRow:
    """Where a selection row keeps each field, by type tag."""

    label: int
    odds: int
    points: int
    replaced: int
    market: int | None


# 24 change: [id, label, [american, decimal, fractional, pct, pct, multiplier], trueOdds, points,
#   sortOrder, tags, replacedSelectionId].
# 35 full: [id, marketId, label, odds[], trueOdds, points, outcomeType, ...]. Beyond index 6 the
#   layout is INFERRED (participants, sortOrder, tags, replacedSelectionId at 10, metadata): only
#   a string at index 10 is read as the replaced id.
_CHANGE_ROW: Final = _SelectionRow(label=1, odds=2, points=4, replaced=7, market=None)
_FULL_ROW: Final = _SelectionRow(label=2, odds=3, points=5, replaced=10, market=1)


def _selection(row: _SelectionRow, fields: list[Any], g: int, pos: int, k: int) -> Quote | None:
    n = len(fields)
    odds = fields[row.odds] if n > row.odds else None
    if type(odds) is list and len(odds) > 1 and type(odds[0]) is str and type(odds[1]) is str:
        try:  # the usual row, inline: two strings the cache has seen before
            price: tuple[int, float] | None = _price(odds[0], odds[1])
        except ParseError:
            price = _frame_price(odds, g, pos, k, row.odds)  # raises with the field's path
    else:
        price = _frame_price(odds, g, pos, k, row.odds)
    if price is None:
        return None
    # Hot path: ids and prices repeat all game, so their checks are cached; a field path is
    # formatted only for a bad value. A row whose selection or market id is not a valid id is
    # skipped (the rest of the frame still counts); a bad replacedSelectionId is dropped and
    # the quote kept.
    selection_id: str = fields[0]  # a str: _entries checked it
    if not _selection_id_ok(selection_id):
        return None
    market_id = fields[row.market] if row.market is not None and n > row.market else None
    if not isinstance(market_id, str):
        market_id = None
    elif not _market_id_ok(market_id):
        return None
    replaced_id = fields[row.replaced] if n > row.replaced else None
    if not isinstance(replaced_id, str) or not _selection_id_ok(replaced_id):
        replaced_id = None
    label = fields[row.label] if n > row.label else None
    line = fields[row.points] if n > row.points else None
    if type(line) is float and math.isfinite(line):
        pass  # the usual case: a finite float is the line as it is
    elif line is not None:
        try:
            line = _line(line, "")
        except ParseError as exc:
            raise ParseError(
                f"frame[2][0][{g}][{pos}][{k}][1][{row.points}]", exc.problem
            ) from None
    label = label if isinstance(label, str) else None
    # Positional (hot path): selection_id, odds_american, odds_decimal, line, market_id,
    # replaced_id, label.
    return Quote(selection_id, price[0], price[1], line, market_id, replaced_id, label)


def _selection_change(fields: list[Any], g: int, pos: int, k: int) -> Quote | None:
    return _selection(_CHANGE_ROW, fields, g, pos, k)


def _selection_full(fields: list[Any], g: int, pos: int, k: int) -> Quote | None:
    return _selection(_FULL_ROW, fields, g, pos, k)


def _market_change(fields: list[Any], g: int, pos: int, k: int) -> MarketStatus | None:
    # 23: [id, name, isSuspended, ...]
    suspended = fields[2] if len(fields) > 2 else None
    return _market_status(fields[0], suspended, g, pos, k)


def _market_full(fields: list[Any], g: int, pos: int, k: int) -> MarketStatus | None:
    # 34: index 0 id, index 7 [id, betOfferTypeId, name]; isSuspended at index 5 is INFERRED
    # (public decoders read it there), so only a real boolean there counts.
    suspended = fields[5] if len(fields) > 5 else None
    return _market_status(fields[0], suspended, g, pos, k)


def _market_status(
    market_id: str, suspended: object, g: int, pos: int, k: int
) -> MarketStatus | None:
    """A market's suspension when the row tells it (a real bool), its id checked."""
    if not isinstance(suspended, bool) or _MARKET_ID_OK(market_id) is None:
        return None  # no suspension told, or a bad id: skip the row, not the frame
    return MarketStatus(market_id, suspended)


_HANDLED_TAGS: Final[dict[int, Callable[[list[Any], int, int, int], FeedItem | None]]] = {
    TAG_MARKET_CHANGE: _market_change,
    TAG_SELECTION_CHANGE: _selection_change,
    TAG_MARKET_FULL: _market_full,
    TAG_SELECTION_FULL: _selection_full,
}


def _frame_price(odds: object, g: int, pos: int, k: int, index: int) -> tuple[int, float] | None:
    """(american, decimal) from [american, decimal, fractional, ...]; None when unpriced."""
    if odds is None:
        return None
    if not isinstance(odds, list):
        raise ParseError(f"frame[2][0][{g}][{pos}][{k}][1][{index}]", "expected an odds array")
    if not odds or odds[0] is None:
        return None
    raw = odds[0]
    book_decimal = odds[1] if len(odds) > 1 else None
    if type(raw) in _PLAIN and type(book_decimal) in _PLAIN:  # hashable: the cache can hold it
        try:
            return _price(raw, book_decimal)
        except ParseError as exc:
            raise ParseError(f"frame[2][0][{g}][{pos}][{k}][1][{index}][0]", exc.problem) from None
    american = _american(raw, f"frame[2][0][{g}][{pos}][{k}][1][{index}][0]")
    return american, _decimal(book_decimal, american)


_EMPTY: Final[list[Any]] = []  # compared with, never changed
_PLAIN: Final = frozenset({str, int, float, type(None)})
_CACHE_SIZE: Final = 8192  # distinct ids and price strings of a busy slate, with room


@functools.lru_cache(maxsize=_CACHE_SIZE, typed=True)  # typed: 100 and 100.0 stay apart
def _price(
    american: str | int | float, book_decimal: str | int | float | None
) -> tuple[int, float]:
    """(american, decimal) of one odds array's first two cells; ParseError with no path."""
    value = _american(american, "")
    return value, _decimal(book_decimal, value)


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _selection_id_ok(value: str) -> bool:
    return _SELECTION_ID_OK(value) is not None


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _market_id_ok(value: str) -> bool:
    return _MARKET_ID_OK(value) is not None


def _json_list(section: dict[str, Any], op: str, key: str) -> list[Any]:
    value = section.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ParseError(f"frame.data.data.{op}.{key}", "expected a list")
    return value


def _json_quote(value: object, path: str) -> Quote | None:
    obj = _obj(value, path)
    selection_id = _req_str(obj, "id", path)
    if _SELECTION_ID_OK(selection_id) is None:
        return None  # a bad id: skip this selection, not the frame
    odds = obj.get("displayOdds")
    if odds is None:
        return None  # a partial change without a price
    if not isinstance(odds, dict):
        raise ParseError(f"{path}.displayOdds", "expected an object")
    american_raw = odds.get("american")
    if american_raw is None:
        return None
    american = _american(american_raw, f"{path}.displayOdds.american")
    market_id = obj.get("marketId")
    if isinstance(market_id, str) and _MARKET_ID_OK(market_id) is None:
        return None  # a bad market id: skip this selection, not the frame
    replaced = obj.get("replacedSelectionId")
    if isinstance(replaced, str) and _SELECTION_ID_OK(replaced) is None:
        replaced = None  # keep the quote, without the bad replaced id
    label = obj.get("label")
    return Quote(
        selection_id=selection_id,
        odds_american=american,
        odds_decimal=_decimal(odds.get("decimal"), american),
        line=_line(obj.get("points"), f"{path}.points"),
        market_id=market_id if isinstance(market_id, str) else None,
        replaced_id=replaced if isinstance(replaced, str) else None,
        label=label if isinstance(label, str) else None,
    )


def _source_ts(metadata: object) -> str | None:
    """The book's publish time (else its creation time) as ISO UTC with milliseconds, or None
    when absent or unreadable (a string, epoch number or timestamp extension alike)."""
    if not isinstance(metadata, dict):
        return None
    for key in ("publishedTime", "createdTime"):
        value = normalise_ts(metadata.get(key))
        if value is not None:
            return value
    return None


_REPR: Final = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother = 3, 200, 60


def _brief(value: object) -> str:
    """A bounded text for an error detail (a frame's nesting and size are the sender's)."""
    return value[:200] if isinstance(value, str) else _REPR.repr(value)


# ---------------------------------------------------------------------------------------------
# Initial data: a subscription's first update is the book's whole current state
# ---------------------------------------------------------------------------------------------
# The monitor subscribes with initialData:true; the book then sends, as that subscription's
# first update, everything its query currently matches. What that frame looks like is INFERRED:
# the captured initialData subscribe (draftkings_ws_nfl_initial_data.json) got only its
# "subscribed" reply within 15 s, and no capture holds an initial-state update. It is read as
# the JSON flavour's `add` section suggests: inserts only, the events in the inserts group's
# event list (entity events, position 0; any type tag, the id at fields[0] as in tag 22), and
# market rows (tag 34) naming their event at fields[1] (the position public decoders read).
# Reading too little would tell the engine that a live event is over, so the frame is taken for
# a complete state only when nothing contradicts it: a first update that deletes or changes
# anything is an ordinary delta (the book sent no initial state), and an event row that cannot
# be read makes the whole answer unknown (None); its prices are applied either way.


def _initial_events(groups: list[Any]) -> frozenset[str] | None:
    """The event ids a msgpack initial-state frame lists (entity events), or None."""
    if any(groups[1]) or any(groups[2]):
        return None  # deletes or changes: a delta, not a state
    inserts = groups[0]
    if not isinstance(inserts[0], list):
        return None
    listed: set[str] = set()
    for entry in inserts[0]:
        event_id = _row_field(entry, 0)
        if event_id is None:
            return None
        listed.add(event_id)
    market_pos = _LAYOUT["events"][0]  # a list: _entries checked it
    for entry in inserts[market_pos]:
        if isinstance(entry, list) and entry and entry[0] == TAG_MARKET_FULL:
            event_id = _row_field(entry, 1)
            if event_id is not None:
                listed.add(event_id)
    return frozenset(listed)


def _row_field(entry: object, index: int) -> str | None:
    """fields[index] of a [typeTag, fields] row when it is a non-empty string, else None."""
    if not isinstance(entry, list) or len(entry) < 2:
        return None
    fields = entry[1]
    if not isinstance(fields, list) or len(fields) <= index:
        return None
    value = fields[index]
    return value if isinstance(value, str) and value else None


def _json_says_no_initial_data(message: dict[str, Any]) -> bool:
    """The JSON flavour tags each message with its subscription's options, e.g.
    context.messageTags ["entity:events", "initialdata:False", ...] (captured)."""
    context = message.get("context")
    tags = context.get("messageTags") if isinstance(context, dict) else None
    if not isinstance(tags, list):
        return False
    return any(isinstance(t, str) and t.lower() == "initialdata:false" for t in tags)


def _json_initial_events(body: dict[str, Any]) -> frozenset[str] | None:
    """The event ids a JSON initial-state update lists: add.events[].id, plus the eventId of
    add.markets[]; None when it removes or changes anything, or an event cannot be read."""
    for op in ("remove", "change"):
        section = body.get(op)
        if isinstance(section, dict) and any(section.values()):
            return None
    add = body.get("add")
    if not isinstance(add, dict):
        return frozenset()
    events = add.get("events")
    if events is not None and not isinstance(events, list):
        return None
    listed: set[str] = set()
    for event in events or ():
        event_id = _json_id(event.get("id")) if isinstance(event, dict) else None
        if event_id is None:
            return None
        listed.add(event_id)
    for market in add.get("markets") or ():  # a list: _json_update checked it
        event_id = _json_id(market.get("eventId")) if isinstance(market, dict) else None
        if event_id is not None:
            listed.add(event_id)
    return frozenset(listed)


def _json_id(value: object) -> str | None:
    if isinstance(value, str):
        return value or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None
