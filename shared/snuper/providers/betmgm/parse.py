"""BetMGM (Entain CDS), pure: fixtures JSON -> Events, and a poll round -> FeedBatch.

Shapes are in docs/wire-formats.md (BetMGM). No I/O here. The CDS API has two market models:
`games[]` with `results[]`, and `optionMarkets[]` with `parameters[]` and `options[]`; both are
read. Unknown fields and unknown market kinds are ignored; a required field that is missing or of
the wrong type raises ParseError naming its path (e.g. `fixtures[2].games[0].results[1].odds`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import orjson

from snuper.feed import FeedBatch, FeedItem, MarketStatus, ParseError, Quote, round_parts
from snuper.model import Event, Market, Side
from snuper.providers.fields import american as _american
from snuper.providers.fields import at as _at
from snuper.providers.fields import book_id
from snuper.providers.fields import decimal as _decimal
from snuper.providers.fields import line as _line
from snuper.providers.fields import obj as _obj
from snuper.providers.fields import opt_list as _opt_list
from snuper.providers.fields import req as _req
from snuper.providers.fields import req_list as _list
from snuper.providers.lines import Line, line_order
from snuper.providers.lines import selections as to_selections
from snuper.slate import parse_iso, slate_date

PROVIDER: Final = "betmgm"


@dataclass(frozen=True, slots=True)
class LeagueIds:
    sport_id: int
    competition_id: int
    path: str  # the site's league page: /en/sports/<path>


LEAGUES: dict[str, LeagueIds] = {
    "nba": LeagueIds(7, 6004, "basketball-7/betting/usa-9/nba-6004"),
    "nfl": LeagueIds(11, 35, "football-11/betting/usa-9/nfl-35"),
    "mlb": LeagueIds(23, 75, "baseball-23/betting/usa-9/mlb-75"),
}

# games[].name.value -> kind. "Run Line" (MLB) and "Money Line" are inferred spellings.
GAME_KINDS: Final[dict[str, Market]] = {
    "moneyline": "moneyline",
    "money line": "moneyline",
    "spread": "spread",
    "run line": "spread",
    "puck line": "spread",
    "totals": "total",
    "total": "total",
}
# optionMarkets[].parameters MarketType -> kind. "2Way - OneWinner" for the moneyline is inferred
# (the docs list Handicap and Over/Under only); a market named like a game is accepted too.
OPTION_KINDS: Final[dict[str, Market]] = {
    "handicap": "spread",
    "over/under": "total",
    "2way - onewinner": "moneyline",
    "moneyline": "moneyline",
}
# Inferred: a market that is not open says so in `status` (optionMarkets) or `visibility`
# (games); any value other than these counts as suspended.
OPEN_STATUSES: Final = frozenset({"visible", "open", "active"})


@dataclass(frozen=True, slots=True)
class Fixture:
    fixture_id: str
    name: str
    home: str
    away: str
    start: datetime
    lines: tuple[Line, ...]
    suspended: frozenset[str]  # market ids not open
    model: str  # "games" or "optionMarkets": which model its main lines came from
    context: str | None


# -- entry points -------------------------------------------------------------------------------


def parse_fixtures_page(payload: object, path: str = "") -> tuple[list[Fixture], int]:
    """One page of /cds-api/bettingoffer/fixtures -> its fixtures and the totalCount."""
    body = _obj(payload, path or "payload")
    raw = _list(body, "fixtures", path)
    total = body.get("totalCount", len(raw))  # optional: a single page may omit it
    if isinstance(total, bool) or not isinstance(total, int) or total < 0:
        raise ParseError(_at(path, "totalCount"), f"expected a count, got {total!r}")
    fixtures = [parse_fixture(f, f"{_at(path, 'fixtures')}[{i}]") for i, f in enumerate(raw)]
    return fixtures, total


def parse_fixture_view(payload: object) -> Fixture | None:
    """/cds-api/bettingoffer/fixture-view -> the fixture, None when the book has none."""
    body = _obj(payload, "payload")
    raw = body.get("fixture")
    return None if raw is None else parse_fixture(raw, "fixture")


def parse_fixture(value: object, path: str) -> Fixture:
    fx = _obj(value, path)
    fixture_id = _int_id(fx, "id", path)
    name = _text(fx, "name", path)
    home, away = _teams(fx, name, path)
    start_text = _req(fx, "startDate", path)
    try:
        start = parse_iso(str(start_text))
    except ValueError:
        raise ParseError(_at(path, "startDate"), f"not an ISO time: {start_text!r}") from None
    lines: list[Line] = []
    suspended: set[str] = set()
    model = "games"
    home_pid, away_pid = _participant_ids(fx, path)
    for i, game in enumerate(_opt_list(fx, "games", path)):
        _game(game, f"{_at(path, 'games')}[{i}]", home, away, lines, suspended)
    if not lines:
        model = "optionMarkets"
        for i, market in enumerate(_opt_list(fx, "optionMarkets", path)):
            where = f"{_at(path, 'optionMarkets')}[{i}]"
            _option_market(market, where, home, away, home_pid, away_pid, lines, suspended)
    lines.sort(key=line_order)
    context = fx.get("context")
    return Fixture(
        fixture_id,
        name,
        home,
        away,
        start,
        tuple(lines),
        frozenset(suspended),
        model,
        context if isinstance(context, str) else None,
    )


def to_event(fx: Fixture, league: str, site_base: str, meta: Mapping[str, Any]) -> Event:
    """The snapshot's Event for a fixture (selections in market, then side order)."""
    selections = to_selections(fx.lines)
    market_ids = {s.kind: s.market_id for s in fx.lines}
    slug = fx.name.lower().replace(" ", "-")
    return Event(
        provider=PROVIDER,
        league=league,
        event_id=fx.fixture_id,
        name=fx.name,
        home=fx.home,
        away=fx.away,
        start_time=fx.start,
        slate_date=slate_date(fx.start),
        event_url=f"{site_base.rstrip('/')}/en/sports/events/{slug}-{fx.fixture_id}",
        selections=selections,
        meta={
            **meta,
            "fixture_id": int(fx.fixture_id),
            "model": fx.model,
            "market_ids": market_ids,
            "result_ids": [s.selection_id for s in fx.lines],
            **({"context": fx.context} if fx.context else {}),
        },
    )


def parse_round(message: bytes | str) -> tuple[FeedBatch, int]:
    """A poll round (feed.frame_round) -> its FeedBatch and the league's totalCount.

    Every main-line selection becomes a Quote (the Watchlist drops unchanged ones), every main
    market a MarketStatus; when the round covered every fixture the book counts, the ids listed
    say which fixtures are still offered (an absent one is over)."""
    items: list[FeedItem] = []
    listed: set[str] = set()
    raw: list[Any] = []
    total = 0
    for p, (label, body) in enumerate(round_parts(message)):
        where = f"pages[{p}]" + (f" ({label})" if label else "")
        try:
            page = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise ParseError(where, f"not JSON ({exc})") from None
        raw.append(page)
        fixtures, total = parse_fixtures_page(page, f"pages[{p}]")
        for fx in fixtures:
            listed.add(fx.fixture_id)
            for market_id in dict.fromkeys(s.market_id for s in fx.lines):
                items.append(MarketStatus(market_id, market_id in fx.suspended))
            for s in fx.lines:
                items.append(
                    Quote(s.selection_id, s.american, s.decimal, s.line, s.market_id, None, s.label)
                )
    complete = len(listed) >= total
    batch = FeedBatch(
        "update", tuple(items), events_listed=frozenset(listed) if complete else None, raw=raw
    )
    return batch, total


# -- the two market models -----------------------------------------------------------------------


def _game(
    value: object, path: str, home: str, away: str, out: list[Line], suspended: set[str]
) -> None:
    game = _obj(value, path)
    if game.get("isMain") is False:  # alternative lines: not the main line
        return
    kind = GAME_KINDS.get(_text(game, "name", path).strip().lower())
    if kind is None:
        return  # a market kind we do not collect
    market_id = _int_id(game, "id", path)
    if not _open(game.get("visibility")):
        suspended.add(market_id)
    game_line = _line(game.get("attr"), _at(path, "attr"))
    for j, value_r in enumerate(_list(game, "results", path)):
        rpath = f"{_at(path, 'results')}[{j}]"
        result = _obj(value_r, rpath)
        label = _text(result, "name", rpath)
        side = _side(kind, label, result.get("totalsPrefix"), home, away)
        if side is None:
            continue  # e.g. a draw result: not a two-way main line
        line = _result_line(kind, result, game_line, label, rpath)
        american = _american(_req(result, "americanOdds", rpath), _at(rpath, "americanOdds"))
        decimal = _decimal(result.get("odds"), american, _at(rpath, "odds"))
        sel_id = _int_id(result, "id", rpath)
        out.append(Line(market_id, kind, side, sel_id, _label(kind, side, label), line, american,
                        decimal))  # fmt: skip


def _option_market(
    value: object,
    path: str,
    home: str,
    away: str,
    home_pid: str | None,
    away_pid: str | None,
    out: list[Line],
    suspended: set[str],
) -> None:
    market = _obj(value, path)
    if market.get("isMain") is False:
        return
    params = _params(market, path)
    kind = OPTION_KINDS.get(params.get("MarketType", "").strip().lower())
    if kind is None and isinstance(market.get("name"), Mapping):
        kind = GAME_KINDS.get(str(market["name"].get("value", "")).strip().lower())
    if kind is None:
        return
    market_id = _int_id(market, "id", path)
    if not _open(market.get("status")):
        suspended.add(market_id)
    param_line = params.get("DecimalValue") if kind == "total" else None
    market_line = _line(param_line, f"{_at(path, 'parameters')}.DecimalValue")
    for j, value_o in enumerate(_list(market, "options", path)):
        opath = f"{_at(path, 'options')}[{j}]"
        option = _obj(value_o, opath)
        label = _text(option, "name", opath)
        pid = option.get("participantId")
        side: Side | None
        if kind != "total" and pid is not None and str(pid) in (home_pid, away_pid):
            side = "home" if str(pid) == home_pid else "away"
        else:
            side = _side(kind, label, None, home, away)
        if side is None:
            continue
        price = _obj(_req(option, "price", opath), _at(opath, "price"))
        ppath = _at(opath, "price")
        american = _american(_req(price, "americanOdds", ppath), _at(ppath, "americanOdds"))
        decimal = _decimal(price.get("odds"), american, _at(ppath, "odds"))
        line = _result_line(kind, option, market_line, label, opath)
        sel_id = _int_id(option, "id", opath)
        out.append(Line(market_id, kind, side, sel_id, _label(kind, side, label), line, american,
                        decimal))  # fmt: skip


def _result_line(
    kind: Market, result: Mapping[str, Any], market_line: float | None, label: str, path: str
) -> float | None:
    if kind == "moneyline":
        return None
    own = _line(result.get("attr"), _at(path, "attr"))
    if kind == "spread":
        if own is None:
            raise ParseError(_at(path, "attr"), "a spread selection needs its handicap")
        return own
    line = market_line if market_line is not None else own
    if line is None:  # last resort: "Over 45,5"
        line = _line(label.split()[-1], _at(path, "name"))
    if line is None:
        raise ParseError(_at(path, "attr"), "a total selection needs its line")
    return line


def _side(kind: Market, label: str, prefix: object, home: str, away: str) -> Side | None:
    if kind == "total":
        word = (prefix if isinstance(prefix, str) and prefix else label).strip().lower()
        if word.startswith("over"):
            return "over"
        if word.startswith("under"):
            return "under"
        return None
    name = label.strip().lower()
    if name == home.lower() or (home.lower().endswith(name) and name):
        return "home"
    if name == away.lower() or (away.lower().endswith(name) and name):
        return "away"
    return None


def _label(kind: Market, side: Side, label: str) -> str:
    # Stable across line moves ("Over 45,5" -> "Over"): the Watchlist continues a selection
    # whose id changed by its (market, label).
    return "Over" if side == "over" else "Under" if side == "under" else label


def _teams(fx: Mapping[str, Any], name: str, path: str) -> tuple[str, str]:
    home = away = None
    for i, value in enumerate(_opt_list(fx, "participants", path)):
        ppath = f"{_at(path, 'participants')}[{i}]"
        part = _obj(value, ppath)
        kind = part.get("properties", {}).get("type") if isinstance(part.get("properties"),
                                                                    Mapping) else None  # fmt: skip
        if kind == "HomeTeam":
            home = _text(part, "name", ppath)
        elif kind == "AwayTeam":
            away = _text(part, "name", ppath)
    if home is None or away is None:  # US naming: "Away at Home"
        left, sep, right = name.partition(" at ")
        if not sep:
            raise ParseError(_at(path, "participants"), f"no home/away teams in {name!r}")
        away, home = away or left.strip(), home or right.strip()
    return home, away


def _participant_ids(fx: Mapping[str, Any], path: str) -> tuple[str | None, str | None]:
    home = away = None
    for part in _opt_list(fx, "participants", path):
        if not isinstance(part, Mapping) or not isinstance(part.get("properties"), Mapping):
            continue
        pid = part.get("participantId")
        if part["properties"].get("type") == "HomeTeam" and pid is not None:
            home = str(pid)
        elif part["properties"].get("type") == "AwayTeam" and pid is not None:
            away = str(pid)
    return home, away


def _params(market: Mapping[str, Any], path: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for value in _opt_list(market, "parameters", path):
        if isinstance(value, Mapping) and isinstance(value.get("key"), str):
            params[value["key"]] = str(value.get("value", ""))
    return params


def _open(status: object) -> bool:
    return status is None or (isinstance(status, str) and status.lower() in OPEN_STATUSES)


# -- field readers ---------------------------------------------------------------------------------


def _text(obj: Mapping[str, Any], key: str, path: str) -> str:
    """A name: CDS wraps it as {"value": ...}; a bare string is accepted too."""
    value = _req(obj, key, path)
    if isinstance(value, Mapping):
        value = value.get("value")
        if not isinstance(value, str):
            raise ParseError(f"{_at(path, key)}.value", "missing")
    if not isinstance(value, str):
        raise ParseError(_at(path, key), f"expected a name, got {type(value).__name__}")
    return value


def _int_id(obj: Mapping[str, Any], key: str, path: str) -> str:
    """CDS ids are integers; kept as their decimal text (ids become file names)."""
    return book_id("event_id", obj, key, path)
