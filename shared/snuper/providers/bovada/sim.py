"""The simulated Bovada site: the coupon API (plain HTTP) and the Atmosphere websocket.

It speaks the wire contract of bovada-wire.md / wire-formats.md (Bovada) and encodes everything
itself: it never imports the parser, so the parser and the simulator cannot share a mistake.
The coupon follows the real (soccer) captures: ids are digit strings, prices carry every odds
format as text ("EVEN" for +100), handicaps have one decimal place, and every event also carries
non-main period markets, an "Alternate Lines" group and a prop, all to be skipped by a scraper.

INFERRED (no public raw frame exists): the websocket framing. Server frames are compact JSON
`descriptor|payload` pairs joined by `|`; a SUBSCRIBE is answered at once with the event's
three main markets whole (a superset of "changes since epochMillis"), an unknown or ended event
with the event-over pair; a heartbeat is the bare frame {"id":0} every HEARTBEAT_S real seconds.
Also inferred: a price id changes with every new price or handicap, while the outcome id stays.

Scenario time runs only while a league has a websocket subscriber, so a paused monitor loses
nothing and a test sees the same sequence every run.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import random
import re
import zlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any, Literal

import orjson
from aiohttp import WSCloseCode, WSMsgType, web

from snuper.sim.clock import ScenarioClock
from snuper.sim.options import SimOptions
from snuper.slate import SLATE_ZONE, slate_day

log = logging.getLogger("snuper.sim.bovada")

Kind = Literal["moneyline", "spread", "total"]
SideName = Literal["home", "away", "over", "under"]
StepKind = Literal["price", "line", "suspend", "resume", "end"]
Pair = tuple[dict[str, Any], dict[str, Any]]  # (descriptor, payload) of one frame segment

TICK_S = 0.02  # real seconds between two looks at the league clocks
HEARTBEAT_S = 1.0  # real seconds between two {"id":0} frames on every open socket
HEARTBEAT = '{"id":0}'
COUPON_PATH = "/services/sports/event/coupon/events/A/description/{sport}/{league}"
WS_PATH = "/services/sports/subscription"
UNREADABLE_BODY: dict[str, Any] = {"redesigned": True, "events": "v2"}


@dataclass(frozen=True, slots=True)
class LeagueInfo:
    league: str
    sport_path: str  # first segment of the coupon path and of event links
    league_path: str
    sport_code: str
    sport_name: str
    league_name: str
    league_node_id: str  # the LEAGUE path node's id, also every event's competitionId
    sport_node_id: str
    spread_name: str
    half: dict[str, Any]  # the non-main period of the "Game Lines" group
    prop: str

    @property
    def path(self) -> str:
        return f"{self.sport_path}/{self.league_path}"


_GAME_PERIOD = {"id": "119", "description": "Game", "abbreviation": "G", "live": False,
                "main": True}  # fmt: skip
_FIRST_HALF = {"id": "2", "description": "First Half", "abbreviation": "1H", "live": False,
               "main": False}  # fmt: skip
_FIRST_FIVE = {"id": "1191", "description": "First 5 Innings", "abbreviation": "F5",
               "live": False, "main": False}  # fmt: skip

LEAGUES: dict[str, LeagueInfo] = {
    "nba": LeagueInfo("nba", "basketball", "nba", "BASK", "Basketball", "NBA", "2154",
                      "229", "Point Spread", _FIRST_HALF, "Will There Be Overtime?"),
    "nfl": LeagueInfo("nfl", "football", "nfl", "FOOT", "Football", "NFL", "2035",
                      "227", "Point Spread", _FIRST_HALF, "Will There Be Overtime?"),
    "mlb": LeagueInfo("mlb", "baseball", "mlb", "BASE", "Baseball", "MLB", "1922",
                      "225", "Runline", _FIRST_FIVE, "Will There Be Extra Innings?"),
}  # fmt: skip
_BY_PATH = {(i.sport_path, i.league_path): i for i in LEAGUES.values()}

_TEAMS: dict[str, tuple[str, ...]] = {
    "nba": ("Boston Celtics", "New York Knicks", "Los Angeles Lakers", "Golden State Warriors",
            "Miami Heat", "Chicago Bulls", "Denver Nuggets", "Phoenix Suns", "Dallas Mavericks",
            "Milwaukee Bucks"),
    "nfl": ("Chicago Bears", "Green Bay Packers", "Dallas Cowboys", "New York Giants",
            "Kansas City Chiefs", "Buffalo Bills", "San Francisco 49ers", "Detroit Lions",
            "Philadelphia Eagles", "Miami Dolphins"),
    "mlb": ("New York Yankees", "Boston Red Sox", "Los Angeles Dodgers", "San Diego Padres",
            "Chicago Cubs", "St. Louis Cardinals", "Houston Astros", "Texas Rangers",
            "Atlanta Braves", "New York Mets"),
}  # fmt: skip

_KEY = {"moneyline": "2W-12", "spread": "2W-HCAP", "total": "2W-OU"}
_DESCRIPTION_KEY = {"moneyline": "Head To Head", "spread": "Main Dynamic Asian Handicap",
                    "total": "Main Dynamic Over/Under"}  # fmt: skip
_MARKET_TYPE_ID = {"moneyline": "3059", "spread": "120738", "total": "120737"}
_TYPE = {"home": "H", "away": "A", "over": "O", "under": "U"}
# Away then home, over then under: the order the coupon lists outcomes in.
_ORDER = {"away": 0, "over": 0, "home": 1, "under": 1}


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


# --- scenario ------------------------------------------------------------------------------


@dataclass(slots=True)
class SimEvent:
    event_id: int
    home: str
    away: str
    start: datetime  # UTC
    league: str = "nba"  # only for the link

    @property
    def name(self) -> str:
        return f"{self.away} @ {self.home}"

    @property
    def link(self) -> str:
        """'/basketball/nba/away-team-home-team-202603081900' (start in New York time)."""
        info = LEAGUES[self.league]
        stamp = self.start.astimezone(SLATE_ZONE).strftime("%Y%m%d%H%M")
        return f"/{info.path}/{_slug(self.away)}-{_slug(self.home)}-{stamp}"


@dataclass(slots=True)
class SimMarket:
    market_id: int
    event_id: int
    kind: Kind
    suspended: bool = False


@dataclass(slots=True)
class SimOutcome:
    outcome_id: int
    market_id: int
    side: SideName
    american: int
    line: float | None


@dataclass(frozen=True, slots=True)
class Step:
    at: float
    kind: StepKind
    event_id: int
    market_id: int | None = None
    side: SideName | None = None
    american: int | None = None
    line: float | None = None  # "line": the moved side's NEW line


@dataclass(slots=True)
class Scenario:
    league: str
    events: list[SimEvent]
    markets: list[SimMarket]
    outcomes: list[SimOutcome]
    steps: list[Step]


def _american_for(prob: float) -> int:
    raw = -100 * prob / (1 - prob) if prob >= 0.5 else 100 * (1 - prob) / prob
    rounded = 5 * round(raw / 5)
    return 100 if -100 < rounded < 100 or rounded == -100 else rounded


def generate_scenario(
    league: str, *, seed: int, slate_day: date, n_events: int = 3, duration: float = 1800.0
) -> Scenario:
    """A deterministic slate and its moves for one league."""
    if league not in LEAGUES or n_events < 1:
        raise ValueError(f"no Bovada simulation for {league!r} with {n_events} events")
    rng = random.Random(seed ^ zlib.crc32(b"bovada" + league.encode()))
    teams = list(_TEAMS[league])
    rng.shuffle(teams)
    events: list[SimEvent] = []
    markets: list[SimMarket] = []
    outcomes: list[SimOutcome] = []
    event_num = 12_400_000 + list(LEAGUES).index(league) * 200_000 + rng.randrange(100_000)
    market_num = 280_000_000 + rng.randrange(1_000_000)
    outcome_num = 1_370_000_000 + rng.randrange(1_000_000)
    evening = datetime.combine(slate_day, time(19, 0), SLATE_ZONE)
    for i in range(n_events):
        home, away = teams[(2 * i) % len(teams)], teams[(2 * i + 1) % len(teams)]
        # Later games start after midnight UTC: their slate is still the New York day.
        start = evening + timedelta(minutes=45 * i + rng.choice((0, 5, 10)))
        ev = SimEvent(event_num, home, away, start.astimezone(UTC), league)
        events.append(ev)
        event_num += rng.randint(3, 90)
        home_prob = rng.uniform(0.3, 0.75)
        fav = 1.0 if home_prob >= 0.5 else -1.0
        spread = 1.5 if league == "mlb" else rng.randint(1, 9) + 0.5
        total = {"nba": rng.randint(205, 240) + 0.5, "nfl": rng.randint(37, 52) + 0.5,
                 "mlb": rng.choice((7.5, 8.5, 9.5))}[league]  # fmt: skip
        opening: list[tuple[Kind, list[tuple[SideName, int, float | None]]]] = [
            ("moneyline", [("away", _american_for(1 - home_prob + 0.02), None),
                           ("home", _american_for(home_prob + 0.02), None)]),
            ("spread", [("away", -110, fav * spread), ("home", -110, -fav * spread)]),
            ("total", [("over", -110, total), ("under", -110, total)]),
        ]  # fmt: skip
        for kind, sides in opening:
            markets.append(SimMarket(market_num, ev.event_id, kind))
            for side, american, line in sides:
                outcomes.append(SimOutcome(outcome_num, market_num, side, american, line))
                outcome_num += rng.randint(1, 9)
            market_num += rng.randint(1, 50)
    steps = _generate_steps(rng, league, events, markets, outcomes, duration)
    return Scenario(league, events, markets, outcomes, steps)


def _generate_steps(
    rng: random.Random,
    league: str,
    events: list[SimEvent],
    markets: list[SimMarket],
    outcomes: list[SimOutcome],
    duration: float,
) -> list[Step]:
    by_event = {e.event_id: [m for m in markets if m.event_id == e.event_id] for e in events}
    sides: dict[Kind, tuple[SideName, SideName]] = {
        "moneyline": ("home", "away"), "spread": ("home", "away"), "total": ("over", "under"),
    }  # fmt: skip
    quiet = events[-1].event_id if len(events) >= 2 else None
    plan: list[Step] = []
    for ev in events:
        ends_at = duration if ev.event_id == quiet else rng.uniform(0.6, 0.95) * duration
        if ev.event_id != quiet:
            for _ in range(rng.randint(3, 5)):
                m = rng.choice(by_event[ev.event_id])
                at = rng.uniform(0.02, 0.55) * duration
                plan.append(Step(at, "price", ev.event_id, m.market_id, rng.choice(sides[m.kind])))
        plan.append(Step(ends_at, "end", ev.event_id))
    first = by_event[events[0].event_id]
    line_market = first[2] if league == "mlb" else first[1]
    plan.append(Step(rng.uniform(0.1, 0.2) * duration, "line", events[0].event_id,
                     line_market.market_id, "over" if league == "mlb" else "home",
                     line=rng.choice((-1.0, 1.0))))  # fmt: skip
    suspend_at = rng.uniform(0.25, 0.35) * duration
    plan.append(Step(suspend_at, "suspend", events[0].event_id, first[1].market_id))
    plan.append(Step(suspend_at + 0.05 * duration, "resume", events[0].event_id,
                     first[1].market_id))  # fmt: skip
    plan.sort(key=lambda s: s.at)
    # Concrete prices come from replaying the plan, so each move starts where the price is.
    world = LeagueWorld(Scenario(league, events, markets, outcomes, []))
    steps: list[Step] = []
    for step in plan:
        step = replace(step, at=round(step.at, 3))
        if step.kind == "price" and step.market_id is not None and step.side is not None:
            now = world.find(step.market_id, step.side).american
            cents = (now - 100 if now >= 100 else now + 100) + rng.choice((-15, -10, -5, 5, 10))
            step = replace(step, american=cents + 100 if cents >= 0 else cents - 100)
        elif step.kind == "line" and step.market_id is not None and step.side is not None:
            current = world.find(step.market_id, step.side)
            assert current.line is not None and step.line is not None
            step = replace(step, line=current.line + step.line, american=rng.choice((-115, -105)))
        world.apply(step)
        steps.append(step)
    return steps


# --- price texts ---------------------------------------------------------------------------


def _check(american: int) -> None:
    if -100 < american < 100:
        raise ValueError(f"not an American price: {american}")


def _places(value: Fraction, places: int) -> Decimal:
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _decimal_exact(american: int) -> Fraction:
    _check(american)
    return 1 + (Fraction(american, 100) if american > 0 else Fraction(100, -american))


def american_text(american: int) -> str:
    """'EVEN' for exactly +100, '+125', '-110'."""
    _check(american)
    if american == 100:
        return "EVEN"
    return f"+{american}" if american > 0 else str(american)


def decimal_text(american: int) -> str:
    """6 places, trailing zeros stripped but 2 kept: '2.05', '1.909091', '2.00'."""
    text = f"{_places(_decimal_exact(american), 6):.6f}"
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.rstrip('0').ljust(2, '0')}"


def handicap_text(line: float) -> str:
    """One decimal place, a sign only when negative: '-1.5', '1.5', '-3.0', '221.5'."""
    return f"{line + 0.0:.1f}"  # + 0.0 turns a -0.0 into 0.0


def _part_line(line: float | None) -> float | None:
    """A line for a part of the game (1H, F5): about half the game's, always x.5."""
    if line is None:
        return None
    half = abs(line) // 2 + 0.5
    return half if line >= 0 else -half


def _price(price_id: int, american: int, line: float | None) -> dict[str, Any]:
    profit = _decimal_exact(american) - 1  # per unit staked
    malay = profit if american < 0 else -1 / profit if american > 100 else Fraction(1)
    body: dict[str, Any] = {"id": str(price_id)}
    if line is not None:
        body["handicap"] = handicap_text(line)
    body |= {
        "american": american_text(american),
        "decimal": decimal_text(american),
        "fractional": f"{profit.numerator}/{profit.denominator}",
        "malay": f"{_places(malay, 2)}",
        "indonesian": f"{_places(Fraction(american, 100), 2)}",
        "hongkong": f"{_places(profit, 2)}",
    }
    return body


# --- the world and its encoding ------------------------------------------------------------


@dataclass(slots=True)
class Delta:
    """What one step changed: the frame segments its event's subscribers are sent."""

    event_id: int
    pairs: list[Pair]
    ended: bool = False


def frame_text(pairs: list[Pair]) -> str:
    """'D1|P1|D2|P2': compact JSON, never a '|' inside (no text of ours holds one)."""
    return "|".join(orjson.dumps(part).decode() for pair in pairs for part in pair)


def event_over(event_id: int) -> list[Pair]:
    eid = str(event_id)
    return [({"eventId": eid, "type": "EVENT", "target": eid, "mode": "DELETE"}, {"id": eid})]


class LeagueWorld:
    """The current state of one league (steps applied so far) and its JSON encoders."""

    def __init__(self, scenario: Scenario) -> None:
        scenario = copy.deepcopy(scenario)
        self.info = LEAGUES[scenario.league]
        self.events = {e.event_id: e for e in scenario.events}
        self.markets = {m.market_id: m for m in scenario.markets}
        self.outcomes = {o.outcome_id: o for o in scenario.outcomes}
        self.ended: set[int] = set()
        # Price ids: a new one with every new price or handicap (the outcome id stays).
        self.price_ids = {o.outcome_id: 13_700_000_000 + o.outcome_id % 10_000_000 * 1_000
                          for o in scenario.outcomes}  # fmt: skip
        self.modified_s = {e.event_id: 0.0 for e in scenario.events}  # scenario time of last change

    def find(self, market_id: int, side: str) -> SimOutcome:
        for o in self.outcomes.values():
            if o.market_id == market_id and o.side == side:
                return o
        raise KeyError(f"no {side} outcome in market {market_id}")

    def apply(self, step: Step) -> Delta:
        """Apply one step; the answer is what its event's subscribers are to be told."""
        if step.event_id not in self.events:
            raise KeyError(f"step for unknown event {step.event_id}")
        if step.kind == "end":
            for m in [m for m in self.markets.values() if m.event_id == step.event_id]:
                for o in self.outcomes_of(m.market_id):
                    del self.outcomes[o.outcome_id]
                del self.markets[m.market_id]
            del self.events[step.event_id]
            del self.modified_s[step.event_id]
            self.ended.add(step.event_id)
            return Delta(step.event_id, event_over(step.event_id), ended=True)
        if step.market_id not in self.markets:
            raise KeyError(f"{step.kind} step for unknown market {step.market_id}")
        market = self.markets[step.market_id]
        if market.event_id != step.event_id:
            raise KeyError(f"market {market.market_id} is not of event {step.event_id}")
        changed: list[SimOutcome] = []
        if step.kind in ("suspend", "resume"):
            market.suspended = step.kind == "suspend"
            mid = str(market.market_id)
            status = "S" if market.suspended else "O"
            pairs: list[Pair] = [
                ({"eventId": str(step.event_id), "type": "MARKET_STATUS", "target": mid},
                 {"id": mid, "status": status})
            ]  # fmt: skip
            self.modified_s[step.event_id] = step.at
            return Delta(step.event_id, pairs)
        if step.kind == "price" and step.side and step.american is not None:
            moved = self.find(market.market_id, step.side)
            moved.american = step.american
            changed = [moved]
        elif step.kind == "line" and step.side and step.line is not None:
            if market.kind == "moneyline":
                raise ValueError(f"a moneyline has no line: {step}")
            # Bovada keeps the outcome ids and changes their handicaps (and the moved price).
            changed = self.outcomes_of(market.market_id)
            for o in changed:
                mine = o.side == step.side
                o.line = step.line if mine or market.kind == "total" else -step.line
                if mine and step.american is not None:
                    o.american = step.american
        else:
            raise ValueError(f"cannot apply {step}")
        self.modified_s[step.event_id] = step.at
        out: list[Pair] = []
        for o in changed:
            self.price_ids[o.outcome_id] += 1
            out.append(self._outcome_pair(market, o))
        return Delta(step.event_id, out)

    def outcomes_of(self, market_id: int) -> list[SimOutcome]:
        return sorted(
            (o for o in self.outcomes.values() if o.market_id == market_id),
            key=lambda o: _ORDER[o.side],
        )

    def ordered(self) -> list[SimEvent]:
        return sorted(self.events.values(), key=lambda e: (e.start, e.event_id))

    def main_markets(self, event_id: int) -> list[SimMarket]:
        kinds = {"moneyline": 0, "spread": 1, "total": 2}
        found = [m for m in self.markets.values() if m.event_id == event_id]
        return sorted(found, key=lambda m: kinds[m.kind])

    # -- frame segments --

    def _outcome_pair(self, market: SimMarket, o: SimOutcome) -> Pair:
        oid = str(o.outcome_id)
        descriptor = {"eventId": str(market.event_id), "type": "OUTCOME", "target": oid,
                      "parentId": str(market.market_id)}  # fmt: skip
        payload = {"id": oid, "status": "O",
                   "price": _price(self.price_ids[o.outcome_id], o.american, o.line)}  # fmt: skip
        return descriptor, payload

    def catch_up(self, event_id: int) -> list[Pair]:
        """The answer to a SUBSCRIBE: the three main markets whole, or the event-over pair."""
        event = self.events.get(event_id)
        if event is None:
            return event_over(event_id)
        return [
            ({"eventId": str(event_id), "type": "MARKET", "target": str(m.market_id)},
             self.market_json(m, event))
            for m in self.main_markets(event_id)
        ]  # fmt: skip

    # -- the coupon --

    def _competitor_id(self, event: SimEvent, team: str) -> str:
        return f"{event.event_id}-{16_000_000 + zlib.crc32(team.encode()) % 1_000_000}"

    def _team_outcome(self, event: SimEvent, side: SideName) -> dict[str, Any]:
        team = event.home if side == "home" else event.away
        return {"description": team, "status": "O", "type": _TYPE[side],
                "competitorId": self._competitor_id(event, team)}  # fmt: skip

    def _outcome_json(
        self, event: SimEvent, oid: int, price_id: int, side: SideName, american: int,
        line: float | None,
    ) -> dict[str, Any]:  # fmt: skip
        if side in ("home", "away"):
            head = self._team_outcome(event, side)
        else:
            head = {"description": side.title(), "status": "O", "type": _TYPE[side]}
        return {"id": str(oid), **head, "price": _price(price_id, american, line)}

    def _market_shell(
        self, market_id: int, kind: Kind, period: dict[str, Any], *, suspended: bool = False
    ) -> dict[str, Any]:
        description = {"moneyline": "Moneyline", "spread": self.info.spread_name,
                       "total": "Total"}[kind]  # fmt: skip
        return {
            "id": str(market_id),
            "descriptionKey": _DESCRIPTION_KEY[kind],
            "description": description,
            "key": _KEY[kind],
            "marketTypeId": _MARKET_TYPE_ID[kind],
            "status": "S" if suspended else "O",
            "singleOnly": False,
            "notes": "",
            "period": dict(period),
            "outcomes": [],
        }

    def market_json(self, m: SimMarket, event: SimEvent) -> dict[str, Any]:
        body = self._market_shell(m.market_id, m.kind, _GAME_PERIOD, suspended=m.suspended)
        body["outcomes"] = [
            self._outcome_json(event, o.outcome_id, self.price_ids[o.outcome_id], o.side,
                               o.american, o.line)
            for o in self.outcomes_of(m.market_id)
        ]  # fmt: skip
        return body

    def _extras(self, event: SimEvent) -> tuple[list[dict[str, Any]], list[dict[str, Any]],
                                                  dict[str, Any]]:  # fmt: skip
        """The non-main period markets, the alternate lines and the prop: all to be skipped.

        Their lines differ from the main ones on purpose, so a scraper that reads them is caught.
        """
        mains = {m.kind: self.outcomes_of(m.market_id) for m in self.main_markets(event.event_id)}
        mid = 300_000_000 + event.event_id % 1_000_000 * 20  # 9 digits, apart from the main ids
        oid = 2_000_000_000 + event.event_id % 1_000_000 * 40  # 10 digits
        pid = 14_500_000_000 + event.event_id % 1_000_000 * 40
        n = 0

        def outcome(side: SideName, american: int, line: float | None) -> dict[str, Any]:
            nonlocal n
            n += 1
            return self._outcome_json(event, oid + n, pid + n, side, american, line)

        def shade(american: int) -> int:  # toward even: a part of the game is closer to a coin
            cents = (american - 100 if american >= 100 else american + 100) * 2 // 3
            return cents + 100 if cents >= 0 else cents - 100

        period: list[dict[str, Any]] = []
        kinds: tuple[Kind, ...] = ("moneyline", "spread", "total")
        for k, kind in enumerate(kinds):
            market = self._market_shell(mid + k, kind, self.info.half)
            for o in mains.get(kind, []):
                market["outcomes"].append(outcome(o.side, shade(o.american), _part_line(o.line)))
            period.append(market)
        alternates: list[dict[str, Any]] = []
        width = 1.0 if self.info.league == "mlb" else 3.0
        alternate_kinds: tuple[tuple[int, Kind], ...] = ((3, "spread"), (4, "total"))
        for k, kind in alternate_kinds:
            market = self._market_shell(mid + k, kind, _GAME_PERIOD)
            market["descriptionKey"] = f"Alternate {market['descriptionKey'].removeprefix('Main ')}"
            for delta in (-width, width):
                for o in mains.get(kind, []):
                    assert o.line is not None
                    # Total: every side moves the same way. Spread: away and home mirror.
                    up = kind == "total" or o.line > 0
                    moved = o.line + (delta if up else -delta)
                    # The side the move favours pays less (e.g. over a lower total).
                    better = (delta < 0) == (o.side == "over" if kind == "total" else o.line < 0)
                    market["outcomes"].append(outcome(o.side, -165 if better else 140, moved))
            alternates.append(market)
        prop = self._market_shell(mid + 5, "moneyline", _GAME_PERIOD)
        prop |= {"descriptionKey": self.info.prop, "description": self.info.prop,
                 "key": "GAME-PROP-12", "marketTypeId": "8207"}  # fmt: skip
        n += 1
        yes = {"id": str(oid + n), "description": "Yes", "status": "O", "type": "H",
               "price": _price(pid + n, 650, None)}  # fmt: skip
        n += 1
        no = {"id": str(oid + n), "description": "No", "status": "O", "type": "A",
              "price": _price(pid + n, -1200, None)}  # fmt: skip
        prop["outcomes"] = [yes, no]
        return period, alternates, prop

    def coupon_event_json(self, event: SimEvent) -> dict[str, Any]:
        period, alternates, prop = self._extras(event)
        mains = [self.market_json(m, event) for m in self.main_markets(event.event_id)]
        groups: list[dict[str, Any]] = [
            {"id": "100-97", "description": "Game Lines", "defaultType": True,
             "alternateType": False, "order": 1, "markets": mains + period},
            # As in the soccer capture, MLB's alternate group does not say alternateType.
            {"id": "100-1123", "description": "Alternate Lines", "defaultType": False,
             "alternateType": self.info.league != "mlb", "order": 2, "markets": alternates},
            {"id": "100-125", "description": "Game Props", "defaultType": False,
             "alternateType": False, "order": 3, "markets": [prop]},
        ]  # fmt: skip
        start_ms = int(event.start.timestamp() * 1000)
        # Deterministic: six hours before the start, plus the scenario time of the last change.
        modified = start_ms - 6 * 3_600_000 + int(self.modified_s[event.event_id] * 1000)
        eid = str(event.event_id)
        return {
            "id": eid,
            "description": event.name,
            "type": "GAMEEVENT",
            "link": event.link,
            "status": "O",
            "sport": self.info.sport_code,
            "startTime": start_ms,
            "live": False,
            "awayTeamFirst": True,
            "denySameGame": "NO",
            "teaserAllowed": True,
            "competitionId": self.info.league_node_id,
            "notes": "",
            "numMarkets": sum(len(g["markets"]) for g in groups),
            "lastModified": modified,
            "competitors": [
                {"id": self._competitor_id(event, event.away), "name": event.away, "home": False},
                {"id": self._competitor_id(event, event.home), "name": event.home, "home": True},
            ],
            "displayGroups": groups,
        }

    def coupon(self, league: str | None = None) -> list[dict[str, Any]]:
        """The coupon array: one group with the path and every event, or [] when none is left."""
        if league is not None and league != self.info.league:
            raise KeyError(f"this world is {self.info.league}, not {league}")
        events = self.ordered()
        if not events:
            return []
        info = self.info
        path = [
            {"id": info.league_node_id, "link": f"/{info.path}", "description": info.league_name,
             "type": "LEAGUE", "sportCode": info.sport_code, "order": 1, "leaf": True,
             "current": True},
            {"id": info.sport_node_id, "link": f"/{info.sport_path}",
             "description": info.sport_name, "type": "SPORT", "sportCode": info.sport_code,
             "order": 2, "leaf": False, "current": False},
        ]  # fmt: skip
        return [{"path": path, "events": [self.coupon_event_json(e) for e in events]}]


# --- the live site -------------------------------------------------------------------------


_SUBSCRIBE_RE = re.compile(r"^SUBSCRIBE\|A\|/events/(\d+)(?:\.\d+)?(?:\?.*)?$")
_UNSUBSCRIBE_RE = re.compile(r"^UNSUBSCRIBE\|(\d+)$")


@dataclass(slots=True, eq=False)
class Connection:
    ws: web.WebSocketResponse
    queue: asyncio.Queue[tuple[str, bool] | None] = field(default_factory=asyncio.Queue)
    subs: dict[int, str] = field(default_factory=dict)  # event id -> its league
    updates_sent: int = 0


@dataclass(slots=True, eq=False)
class LeagueRuntime:
    world: LeagueWorld
    steps: list[Step]
    clock: ScenarioClock
    next_step: int = 0
    subscribers: dict[int, set[Connection]] = field(default_factory=dict)  # event id -> conns

    @property
    def done(self) -> bool:
        return self.next_step >= len(self.steps)

    @property
    def watched(self) -> bool:
        return any(self.subscribers.values())


class BovadaSim:
    """The simulated site; one instance per app, found on the app under SIM_KEY."""

    def __init__(
        self, options: SimOptions, scenarios: Mapping[str, Scenario] | None = None
    ) -> None:
        self.options = options
        if scenarios is None:
            day = options.slate_day or slate_day()
            scenarios = {
                league: generate_scenario(
                    league, seed=options.seed, slate_day=day, n_events=options.events_per_league
                )
                for league in LEAGUES
            }
        self.leagues: dict[str, LeagueRuntime] = {
            league: LeagueRuntime(
                LeagueWorld(sc), sorted(sc.steps, key=lambda s: s.at), ScenarioClock(options.speed)
            )
            for league, sc in scenarios.items()
        }
        self.heartbeat_s = HEARTBEAT_S
        self.coupon_requests = 0  # every coupon request, answered or refused
        self.connections = 0  # websocket connections accepted
        self.frames_sent = 0  # update frames (not heartbeats), over all connections
        self.subscribes: list[str] = []  # event ids, in the order SUBSCRIBE frames arrived
        f = options.faults
        self._fail_status = f.http_status
        self._fail_left = f.http_failures if f.http_status else 0
        self._malformed_at = f.malformed_at  # the Nth update frame over the whole sim
        self._malformed_sent = False
        self._drop_after = f.drop_after  # per connection, once
        self._dropped = False
        self._drop_at: int | None = None  # drop_next: a whole-sim update frame number
        self._open: set[Connection] = set()

    # -- test hooks: faults at a chosen moment (after a scrape, during a monitor) --

    def fail_next(self, status: int, count: int = 1) -> None:
        """The next `count` coupon requests are answered with `status`."""
        self._fail_status, self._fail_left = status, count

    def malformed_next(self) -> None:
        """The next update frame is preceded, once, by a frame cut off mid-JSON."""
        self._malformed_at = self.frames_sent + 1
        self._malformed_sent = False

    def drop_next(self, after_frames: int = 1) -> None:
        """The connection that sends the `after_frames`-th update frame from now is closed."""
        self._drop_at = self.frames_sent + after_frames

    # -- wiring --

    def mount(self, app: web.Application) -> None:
        app[SIM_KEY] = self
        app.router.add_get(COUPON_PATH, self._coupon)
        app.router.add_get(WS_PATH + "/{uuid}", self._websocket)
        app.cleanup_ctx.append(self._ticker)
        app.on_shutdown.append(self._close_sockets)

    def slate(self, league: str) -> list[dict[str, Any]]:
        """The league's coupon array as served now (tests compare scrapes to it)."""
        return self.leagues[league].world.coupon()

    async def _ticker(self, _app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(self._tick_forever())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            self.tick()

    def tick(self) -> None:
        """Fire every step whose time has come on the running league clocks."""
        for runtime in self.leagues.values():
            if not runtime.clock.running or runtime.done:
                continue
            now = runtime.clock.now()
            while not runtime.done and runtime.steps[runtime.next_step].at <= now:
                step = runtime.steps[runtime.next_step]
                runtime.next_step += 1
                try:
                    delta = runtime.world.apply(step)
                except (KeyError, ValueError):
                    log.exception("skipping a step the scenario cannot apply: %s", step)
                    continue
                self._broadcast(runtime, delta)

    def _broadcast(self, runtime: LeagueRuntime, delta: Delta) -> None:
        text = frame_text(delta.pairs)
        for conn in list(runtime.subscribers.get(delta.event_id, ())):
            conn.queue.put_nowait((text, True))
        if delta.ended:
            # The event is gone: its subscriptions end with it (a SUBSCRIBE now gets event-over).
            for conn in runtime.subscribers.pop(delta.event_id, set()):
                conn.subs.pop(delta.event_id, None)
            if not runtime.watched:
                runtime.clock.pause()

    # -- HTTP --

    async def _coupon(self, request: web.Request) -> web.StreamResponse:
        faults = self.options.faults
        if faults.delay_s > 0 and self.coupon_requests >= faults.delay_after_api:
            await asyncio.sleep(faults.delay_s)
        self.coupon_requests += 1
        if self._fail_left > 0 and self._fail_status:
            self._fail_left -= 1
            status = self._fail_status
            headers = {"Retry-After": "1"} if status in (429, 503) else {}
            return web.json_response({"message": "simulated failure"}, status=status,
                                     headers=headers)  # fmt: skip
        info = _BY_PATH.get((request.match_info["sport"], request.match_info["league"]))
        if info is None or info.league not in self.leagues:
            return web.json_response({"message": "no such league"}, status=404)
        if faults.unreadable_api:
            return web.json_response(UNREADABLE_BODY)
        body = orjson.dumps(self.slate(info.league))
        return web.Response(body=body, content_type="application/json")

    # -- websocket --

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.connections += 1
        conn = Connection(ws)
        self._open.add(conn)
        writer = asyncio.create_task(self._writer(conn))
        beat = asyncio.create_task(self._heartbeat(conn))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self._handle_text(conn, msg.data.strip())
        finally:
            self._open.discard(conn)
            beat.cancel()
            for event_id in list(conn.subs):
                self._detach(conn, event_id)
            conn.queue.put_nowait(None)
            with contextlib.suppress(asyncio.CancelledError):
                await beat
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        return ws

    async def _heartbeat(self, conn: Connection) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_s)
            conn.queue.put_nowait((HEARTBEAT, False))

    async def _writer(self, conn: Connection) -> None:
        """Sends queued frames in order and injects the websocket faults (each once)."""
        while (item := await conn.queue.get()) is not None:
            text, is_update = item
            if conn.ws.closed:
                return
            try:
                if is_update:
                    number = self.frames_sent + 1
                    if self._malformed_at == number and not self._malformed_sent:
                        self._malformed_sent = True
                        # The first descriptor cut off halfway: JSON that never closes.
                        head = text.split("|", 1)[0]
                        await conn.ws.send_str(head[: len(head) // 2])
                    self.frames_sent = number
                    conn.updates_sent += 1
                await conn.ws.send_str(text)
                if is_update and self._should_drop(conn):
                    log.info("fault: dropping a connection after %d update frames",
                             conn.updates_sent)  # fmt: skip
                    await conn.ws.close(code=WSCloseCode.INTERNAL_ERROR, message=b"simulated drop")
                    return
            except (ConnectionError, RuntimeError):
                return  # the peer went away; the handler cleans up

    def _should_drop(self, conn: Connection) -> bool:
        if self._drop_at is not None and self.frames_sent >= self._drop_at:
            self._drop_at = None
            return True
        if (
            self._drop_after is not None
            and not self._dropped
            and conn.updates_sent >= self._drop_after
        ):
            self._dropped = True
            return True
        return False

    def _handle_text(self, conn: Connection, text: str) -> None:
        if match := _SUBSCRIBE_RE.match(text):
            self._subscribe(conn, int(match.group(1)))
        elif match := _UNSUBSCRIBE_RE.match(text):
            self._detach(conn, int(match.group(1)))
        else:
            log.info("ignoring client frame %r", text[:80])

    def _subscribe(self, conn: Connection, event_id: int) -> None:
        self.subscribes.append(str(event_id))
        league = next((k for k, r in self.leagues.items() if event_id in r.world.events), None)
        if league is None:  # unknown or ended: nothing to follow
            conn.queue.put_nowait((frame_text(event_over(event_id)), True))
            return
        runtime = self.leagues[league]
        conn.queue.put_nowait((frame_text(runtime.world.catch_up(event_id)), True))
        conn.subs[event_id] = league
        runtime.subscribers.setdefault(event_id, set()).add(conn)
        runtime.clock.start()

    def _detach(self, conn: Connection, event_id: int) -> None:
        league = conn.subs.pop(event_id, None)
        if league is None:
            return
        runtime = self.leagues[league]
        watchers = runtime.subscribers.get(event_id)
        if watchers is not None:
            watchers.discard(conn)
            if not watchers:
                del runtime.subscribers[event_id]
        if not runtime.watched:
            runtime.clock.pause()  # nobody watching: scenario time stands still

    async def _close_sockets(self, _app: web.Application) -> None:
        for conn in list(self._open):
            with contextlib.suppress(ConnectionError, RuntimeError):
                await conn.ws.close(code=WSCloseCode.GOING_AWAY, message=b"simulator stopping")


SIM_KEY = web.AppKey("bovada_sim", BovadaSim)


def mount_sim(app: web.Application, options: SimOptions) -> None:
    BovadaSim(options).mount(app)


def sim_exports(base_url: str) -> dict[str, str]:
    base = base_url.rstrip("/")
    ws_base = "ws" + base.removeprefix("http") if base.startswith("http") else base
    return {"SITE": base, "API": base, "WS": f"{ws_base}{WS_PATH}"}


__all__ = [
    "HEARTBEAT_S",
    "LEAGUES",
    "SIM_KEY",
    "BovadaSim",
    "Delta",
    "LeagueWorld",
    "Scenario",
    "SimEvent",
    "SimMarket",
    "SimOutcome",
    "Step",
    "american_text",
    "decimal_text",
    "event_over",
    "frame_text",
    "generate_scenario",
    "handicap_text",
    "mount_sim",
    "sim_exports",
]
