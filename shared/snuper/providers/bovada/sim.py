"""The simulated Bovada site: the coupon API (plain HTTP) and the Atmosphere websocket.

It speaks the wire format of wire-formats.md (Bovada) and encodes everything
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
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from snuper.sim.options import SimOptions
from snuper.sim.scenario import Kind, SideName, Step, plan_games, plan_steps
from snuper.sim.script import Script, default_scenarios, ticker
from snuper.sim.sockets import SimSocket, SocketHub
from snuper.slate import SLATE_ZONE

log = logging.getLogger("snuper.sim.bovada")

Pair = tuple[dict[str, Any], dict[str, Any]]  # (descriptor, payload) of one frame segment

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


@dataclass(slots=True)
class Scenario:
    league: str
    events: list[SimEvent]
    markets: list[SimMarket]
    outcomes: list[SimOutcome]
    steps: list[Step]


def generate_scenario(
    league: str, *, seed: int, slate_day: date, n_events: int = 3, duration: float = 1800.0
) -> Scenario:
    """A deterministic slate and its moves for one league (snuper.sim.scenario), with Bovada ids."""
    if league not in LEAGUES:
        raise ValueError(f"no Bovada simulation for {league!r}")
    rng = random.Random(seed ^ zlib.crc32(b"bovada" + league.encode()))
    games = plan_games(rng, league, slate_day, n_events)
    events: list[SimEvent] = []
    markets: list[SimMarket] = []
    outcomes: list[SimOutcome] = []
    event_num = 12_400_000 + list(LEAGUES).index(league) * 200_000 + rng.randrange(100_000)
    market_num = 280_000_000 + rng.randrange(1_000_000)
    outcome_num = 1_370_000_000 + rng.randrange(1_000_000)
    for game in games:
        ev = SimEvent(event_num, game.home, game.away, game.start, league)
        events.append(ev)
        event_num += rng.randint(3, 90)
        for kind, sides in game.opening:
            markets.append(SimMarket(market_num, ev.event_id, kind))
            for side, american, line in sides:
                outcomes.append(SimOutcome(outcome_num, market_num, side, american, line))
                outcome_num += rng.randint(1, 9)
            market_num += rng.randint(1, 50)
    plan = [(e.event_id, [(m.market_id, m.kind) for m in markets if m.event_id == e.event_id])
            for e in events]  # fmt: skip
    world = LeagueWorld(Scenario(league, events, markets, outcomes, []))
    steps = plan_steps(rng, league, plan, world, duration)
    return Scenario(league, events, markets, outcomes, steps)


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
class Connection(SimSocket[str]):
    subs: dict[int, str] = field(default_factory=dict)  # event id -> its league


@dataclass(slots=True, eq=False, kw_only=True)
class LeagueRuntime(Script[Step]):
    world: LeagueWorld
    subscribers: dict[int, set[Connection]] = field(default_factory=dict)  # event id -> conns

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
            scenarios = default_scenarios(options, LEAGUES, generate_scenario)
        self.leagues: dict[str, LeagueRuntime] = {
            league: LeagueRuntime.playing(sc.steps, options.speed, world=LeagueWorld(sc))
            for league, sc in scenarios.items()
        }
        self.heartbeat_s = HEARTBEAT_S
        self.coupon_requests = 0  # every coupon request, answered or refused
        self.subscribes: list[str] = []  # event ids, in the order SUBSCRIBE frames arrived
        f = options.faults
        self._fail_status = f.http_status
        self._fail_left = f.http_failures if f.http_status else 0
        self.sockets: SocketHub[str] = SocketHub(f, _garble, self._detach_all)

    # -- test hooks: faults at a chosen moment (after a scrape, during a monitor) --

    def fail_next(self, status: int, count: int = 1) -> None:
        """The next `count` coupon requests are answered with `status`."""
        self._fail_status, self._fail_left = status, count

    def malformed_next(self) -> None:
        """The next update frame is preceded, once, by a frame cut off mid-JSON."""
        self.sockets.malformed_next()

    def drop_next(self, after_frames: int = 1) -> None:
        """The connection that sends the `after_frames`-th update frame from now is closed."""
        self.sockets.drop_next(after_frames)

    @property
    def frames_sent(self) -> int:
        """Update frames (not heartbeats), over all connections."""
        return self.sockets.frames_sent

    @property
    def connections(self) -> int:
        return self.sockets.connections

    # -- wiring --

    def mount(self, app: web.Application) -> None:
        app[SIM_KEY] = self
        app.router.add_get(COUPON_PATH, self._coupon)
        app.router.add_get(WS_PATH + "/{uuid}", self._websocket)
        app.cleanup_ctx.append(ticker(self.tick))
        app.on_shutdown.append(self.sockets.close_all)

    def slate(self, league: str) -> list[dict[str, Any]]:
        """The league's coupon array as served now (tests compare scrapes to it)."""
        return self.leagues[league].world.coupon()

    def tick(self) -> None:
        """Fire every step whose time has come on the running league clocks."""
        for runtime in self.leagues.values():
            if not runtime.clock.running:
                continue
            for step in runtime.due():
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
        conn = Connection(ws)
        writer = self.sockets.opened(conn)
        beat = asyncio.create_task(self._heartbeat(conn))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self._handle_text(conn, msg.data.strip())
        finally:
            beat.cancel()
            self._detach_all(conn)
            self.sockets.closed(conn)
            with contextlib.suppress(asyncio.CancelledError):
                await beat
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        return ws

    async def _heartbeat(self, conn: Connection) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_s)
            conn.queue.put_nowait((HEARTBEAT, False))

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

    def _detach_all(self, conn: SimSocket[str]) -> None:
        assert isinstance(conn, Connection)
        for event_id in list(conn.subs):
            self._detach(conn, event_id)

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


def _garble(frame: str) -> str:
    """The frame's first descriptor cut off halfway: JSON that never closes."""
    head = frame.split("|", 1)[0]
    return head[: len(head) // 2]


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
