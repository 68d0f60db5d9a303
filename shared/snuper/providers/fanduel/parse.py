"""FanDuel, pure: the league page's JSON (content-managed-page, event-page) -> Events, and a
getMarketPrices poll round -> FeedBatch.

Shapes are in docs/wire-formats.md (FanDuel). No I/O here. Events and markets come keyed by id
(integer event ids, string market ids like "726.71037750"); the main lines are the markets of
type MONEY_LINE, MATCH_HANDICAP_(2-WAY) and TOTAL_POINTS_(OVER/UNDER). Alternates carry their
line only in the runner's name (handicap 0) and are skipped, as are props and outrights. A team's
selectionId is the same in its moneyline and spread (and "Over" in every total), so a selection
is named by its market and selectionId together.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import orjson

from snuper.feed import FeedBatch, FeedItem, MarketStatus, ParseError, Quote, round_parts
from snuper.model import Event, Market, Side
from snuper.providers.fields import american, at, book_id, decimal, line, obj, req, req_str
from snuper.providers.lines import Line, line_order
from snuper.providers.lines import selections as to_selections
from snuper.slate import parse_iso, slate_date

PROVIDER: Final = "fanduel"
AK: Final = "FhMFpcPWXMeyZxOx"  # the site's public application key, the same for everyone


@dataclass(frozen=True, slots=True)
class LeagueIds:
    page: str  # customPageId of the league page, and its /navigation/<page> path
    event_type_id: int
    competition_id: int


LEAGUES: dict[str, LeagueIds] = {
    "nba": LeagueIds("nba", 7522, 10547864),
    "nfl": LeagueIds("nfl", 6423, 12282733),
    "mlb": LeagueIds("mlb", 7511, 11196870),
}

KINDS: Final[dict[str, Market]] = {
    "MONEY_LINE": "moneyline",
    "MATCH_HANDICAP_(2-WAY)": "spread",
    "TOTAL_POINTS_(OVER/UNDER)": "total",
}
SIDES: Final[dict[str, Side]] = {"HOME": "home", "AWAY": "away", "OVER": "over", "UNDER": "under"}
OPEN: Final = "OPEN"
# "Los Angeles Dodgers (B Miller)": MLB names carry the starting pitcher.
_PITCHER = re.compile(r"\s*\([^()]*\)\s*$")


def selection_key(market_id: str, selection_id: int | str) -> str:
    """The id a selection is recorded under: its market and FanDuel's selectionId."""
    return f"{market_id}_{selection_id}"


@dataclass(frozen=True, slots=True)
class Game:
    event_id: str
    name: str  # as the book writes it, pitchers included
    home: str
    away: str
    start: datetime
    competition_id: int | None
    lines: tuple[Line, ...]
    suspended: frozenset[str]  # main market ids not open


# -- the league page ------------------------------------------------------------------------------


def parse_page(payload: object) -> list[Game]:
    """content-managed-page or event-page -> every game in it (outrights and other events that
    are not "Away @ Home" are not games and are left out), with its main lines."""
    body = obj(payload, "payload")
    attachments = obj(req(body, "attachments", "payload"), "attachments")
    events = _keyed(attachments, "events")
    markets = _keyed(attachments, "markets")
    by_event: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
    for key, value in markets.items():
        path = f"attachments.markets.{key}"
        market = obj(value, path)
        event_id = book_id("event_id", market, "eventId", path)
        by_event.setdefault(event_id, []).append((path, market))
    games: list[Game] = []
    for key, value in events.items():
        path = f"attachments.events.{key}"
        game = _game(obj(value, path), path, by_event)
        if game is not None:
            games.append(game)
    return games


def to_event(game: Game, league: str, site_base: str) -> Event:
    selections = to_selections(game.lines)
    market_ids = {s.kind: s.market_id for s in game.lines}
    return Event(
        provider=PROVIDER,
        league=league,
        event_id=game.event_id,
        name=f"{game.away} @ {game.home}",
        home=game.home,
        away=game.away,
        start_time=game.start,
        slate_date=slate_date(game.start),
        event_url=f"{site_base.rstrip('/')}/event/{game.event_id}",
        selections=selections,
        meta={"market_ids": market_ids, "listed_as": game.name},
    )


def _keyed(attachments: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = attachments.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ParseError(f"attachments.{key}", f"expected an object by id, got {value!r:.40}")
    return value


def _game(
    body: Mapping[str, Any], path: str, by_event: Mapping[str, list[tuple[str, Mapping[str, Any]]]]
) -> Game | None:
    event_id = book_id("event_id", body, "eventId", path)
    name = req_str(body, "name", path)
    away_text, sep, home_text = name.partition(" @ ")
    if not sep:
        return None  # an outright ("NBA 2026-27 Championship"), not a game
    opened = req_str(body, "openDate", path)
    try:
        start = parse_iso(opened)
    except ValueError:
        raise ParseError(at(path, "openDate"), f"not an ISO time: {opened!r}") from None
    competition = body.get("competitionId")
    lines: list[Line] = []
    suspended: set[str] = set()
    seen: set[Market] = set()
    for market_path, market in by_event.get(event_id, []):
        kind = KINDS.get(str(market.get("marketType", "")))
        if kind is None or kind in seen:
            continue  # alternates (ALTERNATE_*), props, team totals ...
        found = _runners(market, market_path, kind)
        if found is None:
            continue
        seen.add(kind)
        lines.extend(found)
        if market.get("marketStatus", OPEN) != OPEN:
            suspended.add(found[0].market_id)
    lines.sort(key=line_order)
    return Game(
        event_id,
        name,
        _team(home_text),
        _team(away_text),
        start,
        competition if isinstance(competition, int) and not isinstance(competition, bool) else None,
        tuple(lines),
        frozenset(suspended),
    )


def _team(text: str) -> str:
    return _PITCHER.sub("", text).strip()


def _runners(market: Mapping[str, Any], path: str, kind: Market) -> list[Line] | None:
    """The market's two sides, or None when it is not a two-way line."""
    market_id = book_id("market_id", market, "marketId", path)
    runners = market.get("runners")
    if not isinstance(runners, list):
        raise ParseError(at(path, "runners"), f"expected a list, got {type(runners).__name__}")
    lines: dict[Side, Line] = {}
    for i, value in enumerate(runners):
        rpath = f"{at(path, 'runners')}[{i}]"
        runner = obj(value, rpath)
        result = runner.get("result")
        side = SIDES.get(str(result.get("type"))) if isinstance(result, Mapping) else None
        if side is None or side in lines:
            return None
        price = _price(runner, rpath)
        handicap = line(runner.get("handicap"), at(rpath, "handicap"))
        if kind != "moneyline" and handicap is None:
            raise ParseError(at(rpath, "handicap"), "a spread or total runner needs its line")
        label = "Over" if side == "over" else "Under" if side == "under" else _team(
            req_str(runner, "runnerName", rpath)
        )  # fmt: skip
        selection = selection_key(market_id, _selection_id(runner, rpath))
        lines[side] = Line(market_id, kind, side, selection, label,
                           None if kind == "moneyline" else handicap, *price)  # fmt: skip
    if len(lines) != 2:
        return None
    return list(lines.values())


def _selection_id(runner: Mapping[str, Any], path: str) -> str:
    return book_id("selection_id", runner, "selectionId", path)


def _price(runner: Mapping[str, Any], path: str) -> tuple[int, float]:
    """winRunnerOdds: americanDisplayOdds.americanOdds (an integer; americanOddsInt too) and
    trueOdds.decimalOdds.decimalOdds (optional: computed when absent)."""
    where = at(path, "winRunnerOdds")
    odds = obj(req(runner, "winRunnerOdds", path), where)
    display = obj(req(odds, "americanDisplayOdds", where), at(where, "americanDisplayOdds"))
    dpath = at(where, "americanDisplayOdds")
    value = display.get("americanOdds", display.get("americanOddsInt"))
    if value is None:
        raise ParseError(at(dpath, "americanOdds"), "missing")
    price = american(value, at(dpath, "americanOdds"))
    true_odds = odds.get("trueOdds")
    decimal_value = None
    if isinstance(true_odds, Mapping) and isinstance(true_odds.get("decimalOdds"), Mapping):
        decimal_value = true_odds["decimalOdds"].get("decimalOdds")
    return price, decimal(decimal_value, price, at(where, "trueOdds.decimalOdds.decimalOdds"))


# -- getMarketPrices ------------------------------------------------------------------------------


def prices_request(market_ids: Sequence[str]) -> bytes:
    return orjson.dumps({"marketIds": list(market_ids)})


def parse_prices(message: bytes | str, event_of: Mapping[str, str]) -> FeedBatch:
    """A poll round (feed.frame_round of getMarketPrices answers) -> its FeedBatch.

    Every runner of an open main market becomes a Quote (the Watchlist drops unchanged ones); a
    suspended market is a MarketStatus and its stale prices are not quoted. `event_of` maps each
    requested market to its event: an event none of whose markets the book still lists is over
    (inferred: ended markets leave the answer)."""
    items: list[FeedItem] = []
    listed: set[str] = set()
    raw: list[Any] = []
    for p, (label, body) in enumerate(round_parts(message)):
        where = f"answers[{p}]" + (f" ({label})" if label else "")
        try:
            answer = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise ParseError(where, f"not JSON ({exc})") from None
        raw.append(answer)
        if not isinstance(answer, list):
            raise ParseError(where, f"expected a list of markets, got {type(answer).__name__}")
        for i, value in enumerate(answer):
            _market_prices(obj(value, f"{where}[{i}]"), f"{where}[{i}]", event_of, items, listed)
    return FeedBatch("update", tuple(items), events_listed=frozenset(listed), raw=raw)


def _market_prices(
    market: Mapping[str, Any],
    path: str,
    event_of: Mapping[str, str],
    items: list[FeedItem],
    listed: set[str],
) -> None:
    market_id = book_id("market_id", market, "marketId", path)
    event_id = event_of.get(market_id)
    if event_id is None:
        return  # not a market we asked for
    status = str(market.get("marketStatus", OPEN))
    if status == "CLOSED":
        return  # settled: as good as gone
    listed.add(event_id)
    items.append(MarketStatus(market_id, status != OPEN))
    if status != OPEN:
        return  # a suspended market's prices are not on offer; the reopening ones will be
    runners = market.get("runnerDetails")
    if not isinstance(runners, list):
        raise ParseError(at(path, "runnerDetails"), "expected a list")
    for i, value in enumerate(runners):
        rpath = f"{at(path, 'runnerDetails')}[{i}]"
        runner = obj(value, rpath)
        if runner.get("runnerStatus", "ACTIVE") != "ACTIVE":
            continue
        odds, dec = _price(runner, rpath)
        handicap = line(runner.get("handicap"), at(rpath, "handicap"))
        selection = selection_key(market_id, _selection_id(runner, rpath))
        # The Watchlist ignores a moneyline's line; a spread or total keeps its selection id
        # through a line move and carries the new handicap.
        items.append(Quote(selection, odds, dec, handicap))
