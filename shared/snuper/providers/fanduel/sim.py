"""The simulated FanDuel site: league pages, content-managed-page, event-page and getMarketPrices.

It speaks the wire contract of notes/fanduel-wire.md (from wire-formats.md and the real MLB
event-page capture) and encodes everything itself: it never imports the parser, so the parser and
the simulator cannot share a mistake. As in the capture: event ids are integers, market ids are
strings ("734.71037750"), attachments are objects keyed by id strings, americanOdds is an
integer, trueOdds carries the decimal to 15 places (a whole number as an integer) and a
fraction that is not always reduced, a team's selectionId is the same in its moneyline and
spread, and "Over"/"Under" selectionIds are the same in every total market. MLB event names
carry the starting pitchers. Every game also carries an alternate spread and an alternate total
(the line only in runnerName, handicap 0) and a player prop, and every league an outright event:
all to be skipped by a scraper.

INFERRED (no capture shows them): the getMarketPrices answer (a list in request order, ended
markets absent), the market-id prefix "734." for every market, previousWinRunnerOdds before any
move (the current price), the fraction rule outside the captured prices, the outright's names.

Scenario time runs only while a league is polled (a content-managed-page or getMarketPrices
request naming it within IDLE_S), so a paused monitor loses nothing and a test sees the same
sequence every run.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import random
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from fractions import Fraction
from typing import Any

import orjson
from aiohttp import web

from snuper.sim.options import SimOptions
from snuper.sim.scenario import Kind, SideName, Step, plan_games, plan_steps
from snuper.sim.script import Script, default_scenarios, ticker

log = logging.getLogger("snuper.sim.fanduel")

AK = "FhMFpcPWXMeyZxOx"  # the public key: query _ak on the API, header X-Application on PRICES
IDLE_S = 2.0  # real seconds without a poll after which a league's clock pauses
MAX_MARKETS = 50  # the most market ids one getMarketPrices request may name
MARKET_PREFIX = "734"  # every market id is "734.<number>"; the scenario keeps the number
PAGE_PATH = "/api/content-managed-page"
EVENT_PATH = "/api/event-page"
PRICES_PATH = "/api/sports/fixedodds/readonly/v1/getMarketPrices"
UNREADABLE_BODY: dict[str, Any] = {"attachments": {"events": "v2"}}
OVER_ID, UNDER_ID = 7017905, 7017906  # as in the capture: one pair for every total market


@dataclass(frozen=True, slots=True)
class LeagueInfo:
    league: str
    event_type_id: int
    competition_id: int
    sport_name: str  # eventTypes[...].name
    competition_name: str
    spread_name: str
    total_name: str
    alt_spread: tuple[str, str]  # (marketType, marketName)
    alt_total: tuple[str, str]
    prop: tuple[str, str]
    outright: str  # the futures event's name; {season} is filled in

    @property
    def outright_event_id(self) -> int:
        """8 digits, apart from the games' ids; the competition names it (as in the capture)."""
        return 28_100_000 + self.competition_id % 100_000


LEAGUES: dict[str, LeagueInfo] = {
    "nba": LeagueInfo("nba", 7522, 10547864, "Basketball", "NBA", "Spread", "Total Points",
                      ("ALTERNATE_HANDICAP", "Alternate Spread"),
                      ("ALTERNATE_TOTAL_POINTS", "Alternate Total Points"),
                      ("PLAYER_TO_SCORE_20+_POINTS", "To Score 20+ Points"),
                      "NBA {season} Championship"),
    "nfl": LeagueInfo("nfl", 6423, 12282733, "American Football", "NFL", "Spread",
                      "Total Points", ("ALTERNATE_HANDICAP", "Alternate Spread"),
                      ("ALTERNATE_TOTAL_POINTS", "Alternate Total Points"),
                      ("ANY_TIME_TOUCHDOWN_SCORER", "Any Time Touchdown Scorer"),
                      "NFL {season} Super Bowl Winner"),
    "mlb": LeagueInfo("mlb", 7511, 11196870, "Baseball", "MLB", "Run Line", "Total Runs",
                      ("ALTERNATE_RUN_LINES", "Alternate Run Lines"),
                      ("ALTERNATE_TOTAL_RUNS", "Alternate Total Runs"),
                      ("TO_HIT_A_HOME_RUN", "To Hit A Home Run"),
                      "{season} World Series Winner"),
}  # fmt: skip
_BY_PAGE = {info.league: info for info in LEAGUES.values()}

_MARKET_TYPE = {"moneyline": "MONEY_LINE", "spread": "MATCH_HANDICAP_(2-WAY)",
                "total": "TOTAL_POINTS_(OVER/UNDER)"}  # fmt: skip
_SORT = {"moneyline": 10, "spread": 20, "total": 30}  # the capture's sortPriority
_KIND_ORDER = {"moneyline": 0, "spread": 1, "total": 2}
_ORDER = {"away": 0, "over": 0, "home": 1, "under": 1}  # away then home, over then under
_SURNAMES = ("Miller", "Darvish", "Cole", "Webb", "Gallen", "Snell", "Burnes", "Nola", "Fried",
             "Valdez", "Strider", "Alcantara", "Gausman", "Castillo", "Bieber", "Ohtani",
             "Morton", "Wheeler", "Glasnow", "Kirby")  # fmt: skip
_FIRST = ("Jalen", "Marcus", "Tyler", "Devin", "Chris", "Andre", "Luis", "Kevin", "Jordan",
          "Isaiah", "Trent", "Mason")  # fmt: skip
_LAST = ("Walker", "Brooks", "Hayes", "Coleman", "Reed", "Porter", "Vega", "Shaw", "Bishop",
         "Mendoza", "Ellis", "Grant")  # fmt: skip


def market_id_of(number: int) -> str:
    """The wire id of a market number: the scenario's steps carry numbers (Step.market_id is an
    int), the wire and SimMarket carry this string."""
    return f"{MARKET_PREFIX}.{number}"


def market_number(market_id: str) -> int:
    prefix, _, number = market_id.partition(".")
    if prefix != MARKET_PREFIX or not number.isdigit():
        raise ValueError(f"not a simulated FanDuel market id: {market_id!r}")
    return int(number)


def team_selection_id(team: str) -> int:
    """A team's selectionId, the same in every market and game (the capture's are 5 digits)."""
    return 10_000 + zlib.crc32(team.encode()) % 90_000


# --- scenario ------------------------------------------------------------------------------


@dataclass(slots=True)
class SimEvent:
    event_id: int
    home: str
    away: str
    start: datetime  # UTC
    league: str
    home_pitcher: str | None = None
    away_pitcher: str | None = None

    @property
    def name(self) -> str:
        """'Away @ Home'; MLB adds each starting pitcher: 'Away (B Miller) @ Home (Y Darvish)'."""

        def team(name: str, pitcher: str | None) -> str:
            return f"{name} ({pitcher})" if self.league == "mlb" and pitcher else name

        return f"{team(self.away, self.away_pitcher)} @ {team(self.home, self.home_pitcher)}"


@dataclass(slots=True)
class SimMarket:
    market_id: str  # "734.<number>"
    event_id: int
    kind: Kind
    suspended: bool = False


@dataclass(slots=True)
class SimRunner:
    selection_id: int
    market_id: str
    side: SideName
    american: int
    line: float | None


@dataclass(slots=True)
class Scenario:
    league: str
    events: list[SimEvent]
    markets: list[SimMarket]
    runners: list[SimRunner]
    steps: list[Step]  # market_id: the market NUMBER (market_id_of gives the wire id)


def _selection_id(event: SimEvent, side: SideName) -> int:
    if side == "over":
        return OVER_ID
    if side == "under":
        return UNDER_ID
    return team_selection_id(event.home if side == "home" else event.away)


def generate_scenario(
    league: str, *, seed: int, slate_day: date, n_events: int = 3, duration: float = 1800.0
) -> Scenario:
    """A deterministic slate and its moves for one league (snuper.sim.scenario), with FanDuel ids
    and, for MLB, made-up starting pitchers."""
    if league not in LEAGUES:
        raise ValueError(f"no FanDuel simulation for {league!r}")
    rng = random.Random(seed ^ zlib.crc32(b"fanduel" + league.encode()))
    games = plan_games(rng, league, slate_day, n_events)
    index = list(LEAGUES).index(league)
    # Disjoint per league: getMarketPrices looks ids up across every league of the sim.
    event_num = 33_000_000 + index * 200_000 + rng.randrange(100_000)
    market_num = 71_000_000 + index * 2_000_000 + rng.randrange(1_000_000)
    events: list[SimEvent] = []
    markets: list[SimMarket] = []
    runners: list[SimRunner] = []
    # Made-up starting pitchers "X Lastname", no surname twice on a slate of up to 10 games.
    surnames = rng.sample(_SURNAMES, len(_SURNAMES))
    for i, game in enumerate(games):
        home_p: str | None = None
        away_p: str | None = None
        if league == "mlb":
            home_s, away_s = (surnames[(2 * i + k) % len(surnames)] for k in (0, 1))
            home_p, away_p = (f"{rng.choice('ABCDJKLMRSTWY')} {s}" for s in (home_s, away_s))
        ev = SimEvent(event_num, game.home, game.away, game.start, league, home_p, away_p)
        events.append(ev)
        event_num += rng.randint(3, 90)
        for kind, sides in game.opening:
            mid = market_id_of(market_num)
            markets.append(SimMarket(mid, ev.event_id, kind))
            for side, american, line in sides:
                runners.append(SimRunner(_selection_id(ev, side), mid, side, american, line))
            market_num += rng.randint(1, 50)
    plan = [(e.event_id, [(market_number(m.market_id), m.kind) for m in markets
                          if m.event_id == e.event_id]) for e in events]  # fmt: skip
    world = LeagueWorld(Scenario(league, events, markets, runners, []))
    steps = plan_steps(rng, league, plan, world, duration)
    return Scenario(league, events, markets, runners, steps)


# --- prices --------------------------------------------------------------------------------


def _exact(american: int) -> Fraction:
    if -100 < american < 100:
        raise ValueError(f"not an American price: {american}")
    return 1 + (Fraction(american, 100) if american > 0 else Fraction(100, -american))


def american_decimal(american: int) -> float:
    """trueOdds' decimal: 1 + a/100 or 1 + 100/|a|, to 15 places as in the capture
    (-140 -> 1.714285714285714, +118 -> 2.18, not the float sums 1.7142857142857144, 2.1799...)."""
    return float(round(_exact(american), 15))


def american_fraction(american: int) -> tuple[int, int]:
    """trueOdds' fraction, not reduced, as in the capture: +118 -> 118/100, +240 -> 24/10,
    +1000 -> 10/1, -138 -> 100/138, -330 -> 10/33."""
    _exact(american)
    if american > 0:
        if american >= 1000 and american % 100 == 0:
            return american // 100, 1
        if american >= 210 and american % 10 == 0:
            return american // 10, 10
        return american, 100
    if -american >= 300 and american % 10 == 0:
        return 10, -american // 10
    return 100, -american


def _number(value: float) -> int | float:
    """A whole number as an integer (the capture's handicap 0 and decimalOdds 11)."""
    return int(value) if float(value).is_integer() else value


def odds_json(american: int) -> dict[str, Any]:
    """The winRunnerOdds object of a price."""
    numerator, denominator = american_fraction(american)
    return {
        "americanDisplayOdds": {"americanOdds": american, "americanOddsInt": american},
        "trueOdds": {
            "decimalOdds": {"decimalOdds": _number(american_decimal(american))},
            "fractionalOdds": {"numerator": numerator, "denominator": denominator},
        },
    }


def _signed(line: float) -> str:
    """'+7.5', '-1.5', '+0' (an alternate spread's line in its runnerName)."""
    return f"{line + 0.0:+g}"


# --- the world and its encoding ------------------------------------------------------------


class LeagueWorld:
    """The current state of one league (steps applied so far) and its JSON encoders."""

    def __init__(self, scenario: Scenario) -> None:
        scenario = copy.deepcopy(scenario)
        self.info = LEAGUES[scenario.league]
        self.events = {e.event_id: e for e in scenario.events}
        self.markets = {m.market_id: m for m in scenario.markets}
        # Keyed by (market, selection): a team's selectionId recurs across its markets.
        self.runners = {(r.market_id, r.selection_id): r for r in scenario.runners}
        # The price before each runner's last move; before any move, the price itself.
        self.previous = {key: r.american for key, r in self.runners.items()}
        first = min((e.start for e in scenario.events), default=None)
        self.outright_open = None if first is None else first + timedelta(days=150)
        # Every market id this league ever served: a poll naming one of them keeps its clock on.
        self.known_ids: set[str] = set(self.markets)
        for event in scenario.events:
            self.known_ids.update(self._extra_ids(event.event_id))
        if self.outright_open is not None:
            self.known_ids.add(self._outright_market_id)

    # -- state --

    def find(self, market_id: int | str, side: str) -> SimRunner:
        """A side's runner; `market_id` is the wire id or the scenario's market number."""
        key = market_id_of(market_id) if isinstance(market_id, int) else market_id
        for r in self.runners.values():
            if r.market_id == key and r.side == side:
                return r
        raise KeyError(f"no {side} runner in market {key}")

    def apply(self, step: Step) -> None:
        if step.event_id not in self.events:
            raise KeyError(f"step for unknown event {step.event_id}")
        if step.kind == "end":
            for m in [m for m in self.markets.values() if m.event_id == step.event_id]:
                for r in self.runners_of(m.market_id):
                    del self.runners[(r.market_id, r.selection_id)]
                    del self.previous[(r.market_id, r.selection_id)]
                del self.markets[m.market_id]
            del self.events[step.event_id]
            return
        market = None if step.market_id is None else self.markets.get(market_id_of(step.market_id))
        if market is None or market.event_id != step.event_id:
            raise KeyError(f"{step.kind} step for unknown market {step.market_id}")
        if step.kind in ("suspend", "resume"):
            market.suspended = step.kind == "suspend"
        elif step.kind == "price" and step.side and step.american is not None:
            self._reprice(self.find(market.market_id, step.side), step.american)
        elif step.kind == "line" and step.side and step.line is not None:
            if market.kind == "moneyline":
                raise ValueError(f"a moneyline has no line: {step}")
            # FanDuel keeps the selectionIds and moves both handicaps (the moved side's price too).
            for r in self.runners_of(market.market_id):
                mine = r.side == step.side
                r.line = step.line if mine or market.kind == "total" else -step.line
                if mine and step.american is not None:
                    self._reprice(r, step.american)
        else:
            raise ValueError(f"cannot apply {step}")

    def _reprice(self, runner: SimRunner, american: int) -> None:
        self.previous[(runner.market_id, runner.selection_id)] = runner.american
        runner.american = american

    def runners_of(self, market_id: str) -> list[SimRunner]:
        return sorted(
            (r for r in self.runners.values() if r.market_id == market_id),
            key=lambda r: _ORDER[r.side],
        )

    def ordered(self) -> list[SimEvent]:
        return sorted(self.events.values(), key=lambda e: (e.start, e.event_id))

    def main_markets(self, event_id: int) -> list[SimMarket]:
        found = [m for m in self.markets.values() if m.event_id == event_id]
        return sorted(found, key=lambda m: _KIND_ORDER[m.kind])

    # -- events --

    def _event_json(self, event: SimEvent) -> dict[str, Any]:
        mains = self.main_markets(event.event_id)
        primary = next((m for m in mains if m.kind == "moneyline"), mains[0] if mains else None)
        body = self._event_shell(event.event_id, event.name, event.start)
        if primary is not None:
            body["primaryMarketId"] = primary.market_id
        return body

    def _event_shell(self, event_id: int, name: str, open_date: datetime) -> dict[str, Any]:
        return {
            "eventId": event_id,
            "name": name,
            "openDate": _stamp(open_date),
            "inPlay": False,
            "competitionId": self.info.competition_id,
            "eventTypeId": self.info.event_type_id,
            "countryCode": "US",
            "timezone": "America/New_York",
            "key": f"EVENT:{event_id}",
            "videoAvailable": False,
        }

    # -- markets --

    def _market_shell(
        self, market_id: str, event_id: int, when: datetime, market_type: str, name: str,
        sort: int, runners: list[dict[str, Any]], *, suspended: bool = False,
    ) -> dict[str, Any]:  # fmt: skip
        return {
            "marketId": market_id,
            "eventId": event_id,
            "eventTypeId": self.info.event_type_id,
            "competitionId": self.info.competition_id,
            "marketName": name,
            "marketTime": _stamp(when),
            "marketType": market_type,
            "bspMarket": False,
            "sgmMarket": True,
            "inPlay": False,
            "numberOfRunners": len(runners),
            "numberOfActiveRunners": len(runners),
            "numberOfWinners": 1,
            "sortPriority": sort,
            "bettingType": "ODDS",
            "marketStatus": "SUSPENDED" if suspended else "OPEN",
            "runners": runners,
            "canTurnInPlay": True,
            "hasCashout": True,
            "eachwayAvailable": False,
            "legTypes": ["SIMPLE_SELECTION"],
        }

    @staticmethod
    def _runner_json(
        selection_id: int, name: str, handicap: float, result: str | None, sort: int,
        american: int, previous: int,
    ) -> dict[str, Any]:  # fmt: skip
        return {
            "selectionId": selection_id,
            "handicap": _number(handicap),
            "runnerName": name,
            "sortPriority": sort,
            "result": {"type": result} if result else {},
            "runnerStatus": "ACTIVE",
            "winRunnerOdds": odds_json(american),
            "previousWinRunnerOdds": [odds_json(previous)],
        }

    def market_json(self, m: SimMarket) -> dict[str, Any]:
        event = self.events[m.event_id]
        runners: list[dict[str, Any]] = []
        for sort, r in enumerate(self.runners_of(m.market_id), start=1):
            if r.side in ("home", "away"):
                name = event.home if r.side == "home" else event.away  # never the pitcher
            else:
                name = r.side.title()
            handicap = 0.0 if m.kind == "moneyline" or r.line is None else r.line
            previous = self.previous[(m.market_id, r.selection_id)]
            runners.append(self._runner_json(r.selection_id, name, handicap, r.side.upper(), sort,
                                             r.american, previous))  # fmt: skip
        name = {"moneyline": "Moneyline", "spread": self.info.spread_name,
                "total": self.info.total_name}[m.kind]  # fmt: skip
        return self._market_shell(m.market_id, m.event_id, event.start, _MARKET_TYPE[m.kind],
                                  name, _SORT[m.kind], runners, suspended=m.suspended)  # fmt: skip

    @staticmethod
    def _extra_ids(event_id: int) -> list[str]:
        base = 90_000_000 + event_id % 1_000_000 * 4  # apart from every main market number
        return [market_id_of(base + k) for k in range(3)]

    def _extras(self, event: SimEvent) -> list[dict[str, Any]]:
        """The alternate spread, the alternate total and a prop: all to be skipped.

        Their lines differ from the main ones on purpose (the main line is never among them), so
        a scraper that reads them is caught.
        """
        mains = {m.kind: self.runners_of(m.market_id) for m in self.main_markets(event.event_id)}
        alt_spread_id, alt_total_id, prop_id = self._extra_ids(event.event_id)
        selection = 40_000_000 + event.event_id % 100_000 * 100
        width = 1.0 if self.info.league == "mlb" else 2.0
        # Price by how much easier the alternate line is for the runner than the main one.
        price = {2: -250, 1: -165, -1: 140, -2: 210}
        out: list[dict[str, Any]] = []
        if mains.get("spread"):
            runners: list[dict[str, Any]] = []
            for r in mains["spread"]:
                assert r.line is not None
                team = event.home if r.side == "home" else event.away
                for steps in (2, 1, -1, -2):  # more points to the runner first
                    line = r.line + steps * width
                    runners.append(self._runner_json(
                        selection + len(runners) + 1, f"{team} {_signed(line)}", 0.0,
                        r.side.upper(), len(runners) + 1, price[steps], price[steps]))  # fmt: skip
            kind, name = self.info.alt_spread
            out.append(self._market_shell(alt_spread_id, event.event_id, event.start, kind, name,
                                          90, runners))  # fmt: skip
        if mains.get("total"):
            runners = []
            for r in mains["total"]:
                assert r.line is not None
                for steps in (2, 1, -1, -2):
                    # Over: a lower total is easier; under: a higher one.
                    line = r.line - steps * width if r.side == "over" else r.line + steps * width
                    runners.append(self._runner_json(
                        selection + 20 + len(runners) + 1, f"{r.side.title()} ({line:g})", 0.0,
                        None, len(runners) + 1, price[steps], price[steps]))  # fmt: skip
            kind, name = self.info.alt_total
            out.append(self._market_shell(alt_total_id, event.event_id, event.start, kind, name,
                                          91, runners))  # fmt: skip
        rng = random.Random(event.event_id)
        players = [f"{rng.choice(_FIRST)} {last}" for last in rng.sample(_LAST, 4)]
        prop_runners = [
            self._runner_json(selection + 50 + i, player, 0.0, None, i + 1, odds, odds)
            for i, (player, odds) in enumerate(zip(players, (180, 240, 310, 650), strict=True))
        ]
        kind, name = self.info.prop
        out.append(self._market_shell(prop_id, event.event_id, event.start, kind, name, 70,
                                      prop_runners))  # fmt: skip
        return out

    # -- the outright --

    @property
    def _outright_market_id(self) -> str:
        return market_id_of(99_000_000 + list(LEAGUES).index(self.info.league))

    def _outright(self) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The league's futures event and its one market (not a game: no ' @ ' in the name)."""
        if self.outright_open is None:
            return None
        year = self.outright_open.year
        season = str(year) if self.info.league == "mlb" else f"{year - 1}-{year % 100:02d}"
        event_id = self.info.outright_event_id
        name = self.info.outright.format(season=season)
        event = self._event_shell(event_id, name, self.outright_open)
        event["primaryMarketId"] = self._outright_market_id
        runners = [
            self._runner_json(60_000_000 + team_selection_id(team), team, 0.0, None, i + 1, odds,
                              odds)
            for i, (team, odds) in enumerate(
                zip(_TEAMS_FOR_OUTRIGHT[self.info.league], (350, 600, 900, 1400), strict=True))
        ]  # fmt: skip
        market = self._market_shell(self._outright_market_id, event_id, self.outright_open,
                                    "OUTRIGHT_BETTING", name, 1, runners)  # fmt: skip
        return event, market

    # -- answers --

    def _attachments(
        self, events: list[dict[str, Any]], markets: list[dict[str, Any]]
    ) -> dict[str, Any]:
        info = self.info
        return {
            "eventTypes": {
                str(info.event_type_id): {"eventTypeId": info.event_type_id,
                                          "name": info.sport_name}},
            "competitions": {
                str(info.competition_id): {
                    "key": f"COMP:{info.competition_id}", "name": info.competition_name,
                    "competitionId": info.competition_id,
                    "eventId": info.outright_event_id, "eventTypeId": info.event_type_id}},
            "events": {str(e["eventId"]): e for e in events},
            "markets": {m["marketId"]: m for m in markets},
        }  # fmt: skip

    def _event_markets(self, event: SimEvent) -> list[dict[str, Any]]:
        return [self.market_json(m) for m in self.main_markets(event.event_id)] + self._extras(
            event
        )

    def page_json(self) -> dict[str, Any]:
        """The content-managed-page body: every game, the outright, and all their markets."""
        events: list[dict[str, Any]] = []
        markets: list[dict[str, Any]] = []
        for event in self.ordered():
            events.append(self._event_json(event))
            markets.extend(self._event_markets(event))
        outright = self._outright()
        if outright is not None:
            events.append(outright[0])
            markets.append(outright[1])
        return {"layout": _layout(self.info), "attachments": self._attachments(events, markets)}

    def event_json(self, event_id: int) -> dict[str, Any] | None:
        """The event-page body of one event (None: not in this league, or ended)."""
        event = self.events.get(event_id)
        if event is not None:
            body = self._attachments([self._event_json(event)], self._event_markets(event))
            return {"layout": _layout(self.info), "attachments": body}
        outright = self._outright()
        if outright is not None and outright[0]["eventId"] == event_id:
            body = self._attachments([outright[0]], [outright[1]])
            return {"layout": _layout(self.info), "attachments": body}
        return None

    def prices_json(self, market_ids: Iterable[str]) -> list[dict[str, Any]]:
        """getMarketPrices entries for the ids this league still offers, in the given order."""
        wanted = list(market_ids)
        if not any(i in self.known_ids for i in wanted):
            return []
        markets = self.page_json()["attachments"]["markets"]
        out = []
        for market_id in wanted:
            m = markets.get(market_id)
            if m is None:
                continue  # an ended event's markets (or another league's): absent
            out.append({
                "marketId": market_id,
                "marketStatus": m["marketStatus"],
                "bettingType": "ODDS",
                "inplay": False,
                "runnerDetails": [
                    {key: r[key] for key in ("selectionId", "runnerStatus", "handicap",
                                             "winRunnerOdds", "previousWinRunnerOdds")}
                    for r in m["runners"]],
            })  # fmt: skip
        return out


_TEAMS_FOR_OUTRIGHT = {
    "nba": ("Boston Celtics", "Denver Nuggets", "Milwaukee Bucks", "Phoenix Suns"),
    "nfl": ("Kansas City Chiefs", "San Francisco 49ers", "Buffalo Bills", "Philadelphia Eagles"),
    "mlb": ("Los Angeles Dodgers", "Atlanta Braves", "Houston Astros", "New York Yankees"),
}


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _layout(info: LeagueInfo) -> dict[str, Any]:
    """Something small of the capture's layout shape (a scraper ignores it)."""
    return {
        "defaultTab": 1,
        "tabsDisplayOrder": [1],
        "tabs": {"1": {"id": 1, "title": info.competition_name, "cards": [{"id": 1}],
                       "isSameGameMulti": False, "description": None}},
        "cards": {"1": {"id": 1, "type": "COUPON", "title": "Game Lines",
                        "marketTypes": list(_MARKET_TYPE.values())}},
    }  # fmt: skip


# --- the site ------------------------------------------------------------------------------


def _page(info: LeagueInfo) -> str:
    # As on the real site, the page's own script loads the league JSON: Playwright sees it.
    query = (
        f"page=CUSTOM&customPageId={info.league}&pbHorizontal=false&_ak={AK}"
        "&timezone=America%2FNew_York"
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{info.competition_name} Betting Odds | FanDuel Sportsbook (simulated)</title></head>
<body><main id="league"><p id="status">Loading…</p><ul id="events"></ul></main>
<script>
(async () => {{
  const status = document.getElementById("status");
  for (let attempt = 0; attempt < 8; attempt++) {{
    const res = await fetch("{PAGE_PATH}?{query}");
    if (res.ok) {{
      const data = await res.json();
      const list = document.getElementById("events");
      const events = Object.values(data.attachments.events);
      for (const ev of events) {{
        const item = document.createElement("li");
        item.textContent = ev.name;
        list.appendChild(item);
      }}
      status.textContent = events.length + " events";
      return;
    }}
    await new Promise((done) => setTimeout(done, 250 * (attempt + 1)));
  }}
  status.textContent = "failed to load";
}})();
</script></body></html>
"""


@dataclass(slots=True, eq=False, kw_only=True)
class LeagueRuntime(Script[Step]):
    world: LeagueWorld
    last_poll: float | None = None  # loop time of the latest request naming this league


@dataclass(slots=True)
class _Faults:
    status: int | None = None
    left: int = 0
    malformed_at: int | None = None  # the Nth API/PRICES request (1-based, whole sim)
    malformed_sent: bool = False


class FanDuelSim:
    """The simulated site; one instance per app, found on the app under SIM_KEY."""

    def __init__(
        self, options: SimOptions, scenarios: Mapping[str, Scenario] | None = None
    ) -> None:
        self.options = options
        if scenarios is None:
            scenarios = default_scenarios(options, LEAGUES, generate_scenario)
        self.leagues: dict[str, LeagueRuntime] = {
            league: LeagueRuntime.playing(sc.steps, options.speed, world=LeagueWorld(sc))
            for league, sc in scenarios.items()
        }
        f = options.faults
        self.faults = _Faults(f.http_status, f.http_failures if f.http_status else 0,
                              f.malformed_at)  # fmt: skip
        self.api_requests = 0  # API and PRICES requests, answered or refused
        self.page_requests = 0  # content-managed-page requests, answered or refused
        self.price_requests = 0  # getMarketPrices requests, answered or refused
        self.rejected = 0  # 400s for a missing or wrong key

    # -- test hooks: faults at a chosen moment (after a scrape, during a monitor) --

    def fail_next(self, status: int, count: int = 1) -> None:
        """The next `count` API/PRICES requests are answered with `status`."""
        self.faults.status, self.faults.left = status, count

    def malformed_next(self, after: int = 0) -> None:
        """The first answer after the next `after` API/PRICES requests is cut off (once)."""
        self.faults.malformed_at = self.api_requests + 1 + after
        self.faults.malformed_sent = False

    # -- wiring --

    def mount(self, app: web.Application) -> None:
        app[SIM_KEY] = self
        app.router.add_get("/navigation/{league}", self._league_page)
        app.router.add_get(PAGE_PATH, self._content_page)
        app.router.add_get(EVENT_PATH, self._event_page)
        app.router.add_post(PRICES_PATH, self._prices)
        app.cleanup_ctx.append(ticker(self.tick))

    def slate(self, league: str) -> dict[str, Any]:
        """The league's content-managed-page body as served now (tests compare scrapes to it)."""
        return self.leagues[league].world.page_json()

    def tick(self) -> None:
        now = asyncio.get_running_loop().time()
        for runtime in self.leagues.values():
            if runtime.last_poll is None or now - runtime.last_poll > IDLE_S:
                runtime.clock.pause()  # nobody polling: scenario time stands still
                continue
            for step in runtime.due():
                try:
                    runtime.world.apply(step)
                except (KeyError, ValueError):
                    log.exception("skipping a step the scenario cannot apply: %s", step)

    def _polled(self, runtime: LeagueRuntime) -> None:
        runtime.last_poll = asyncio.get_running_loop().time()
        runtime.clock.start()
        self.tick()

    # -- HTTP --

    async def _gate(self, request: web.Request, key: str | None) -> web.Response | None:
        """Applies the HTTP faults and the key check; a response means 'answer this'."""
        faults = self.options.faults
        if faults.delay_s > 0 and self.api_requests >= faults.delay_after_api:
            await asyncio.sleep(faults.delay_s)
        self.api_requests += 1
        if self.faults.left > 0 and self.faults.status:
            self.faults.left -= 1
            status = self.faults.status
            headers = {"Retry-After": "1"} if status in (429, 503) else {}
            return web.json_response({"error": "simulated failure"}, status=status,
                                     headers=headers)  # fmt: skip
        if key != AK:
            self.rejected += 1
            return web.Response(status=400)  # as the real site: an empty body
        return None

    def _answer(self, body: object) -> web.Response:
        raw = orjson.dumps(body)
        f = self.faults
        if (
            f.malformed_at is not None
            and not f.malformed_sent
            and self.api_requests >= f.malformed_at
        ):
            f.malformed_sent = True
            raw = raw[: len(raw) // 2]  # JSON that never closes
        return web.Response(body=raw, content_type="application/json")

    async def _league_page(self, request: web.Request) -> web.StreamResponse:
        faults = self.options.faults
        if faults.delay_s > 0 and self.api_requests >= faults.delay_after_api:
            await asyncio.sleep(faults.delay_s)
        info = _BY_PAGE.get(request.match_info["league"])
        if info is None or info.league not in self.leagues:
            raise web.HTTPNotFound(text="no such league")
        return web.Response(text=_page(info), content_type="text/html")

    async def _content_page(self, request: web.Request) -> web.StreamResponse:
        self.page_requests += 1
        refused = await self._gate(request, request.query.get("_ak"))
        if refused is not None:
            return refused
        runtime = self.leagues.get(request.query.get("customPageId", ""))
        if runtime is None:
            return web.json_response({"error": "not found"}, status=404)
        self._polled(runtime)
        if self.options.faults.unreadable_api:
            return self._answer(UNREADABLE_BODY)
        return self._answer(runtime.world.page_json())

    async def _event_page(self, request: web.Request) -> web.StreamResponse:
        refused = await self._gate(request, request.query.get("_ak"))
        if refused is not None:
            return refused
        if self.options.faults.unreadable_api:
            return self._answer(UNREADABLE_BODY)
        try:
            event_id = int(request.query["eventId"])
        except (KeyError, ValueError):
            return web.json_response({"error": "eventId required"}, status=400)
        for runtime in self.leagues.values():
            body = runtime.world.event_json(event_id)
            if body is not None:
                return self._answer(body)
        return web.json_response({"error": "not found"}, status=404)

    async def _prices(self, request: web.Request) -> web.StreamResponse:
        self.price_requests += 1
        refused = await self._gate(request, request.headers.get("X-Application"))
        if refused is not None:
            return refused
        ids = _market_ids(await request.read())
        if ids is None:
            return web.json_response({"error": "marketIds required"}, status=400)
        if len(ids) > MAX_MARKETS:
            return web.json_response({"error": "too many markets"}, status=400)
        wanted = list(dict.fromkeys(ids))  # a repeated id is answered once
        for runtime in self.leagues.values():
            if not runtime.world.known_ids.isdisjoint(wanted):
                self._polled(runtime)
        found: dict[str, dict[str, Any]] = {}
        for runtime in self.leagues.values():
            found.update((e["marketId"], e) for e in runtime.world.prices_json(wanted))
        return self._answer([found[i] for i in wanted if i in found])


def _market_ids(raw: bytes) -> Sequence[str] | None:
    """The request's marketIds: a list of id strings, or None when the body is not that."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    ids = body.get("marketIds") if isinstance(body, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        return None
    return ids


SIM_KEY = web.AppKey("fanduel_sim", FanDuelSim)


def mount_sim(app: web.Application, options: SimOptions) -> None:
    FanDuelSim(options).mount(app)


def sim_exports(base_url: str) -> dict[str, str]:
    base = base_url.rstrip("/")
    return {"SITE": base, "API": base, "PRICES": base}


__all__ = [
    "AK",
    "IDLE_S",
    "LEAGUES",
    "MAX_MARKETS",
    "SIM_KEY",
    "FanDuelSim",
    "LeagueWorld",
    "Scenario",
    "SimEvent",
    "SimMarket",
    "SimRunner",
    "Step",
    "american_decimal",
    "american_fraction",
    "generate_scenario",
    "market_id_of",
    "market_number",
    "mount_sim",
    "odds_json",
    "sim_exports",
    "team_selection_id",
]
