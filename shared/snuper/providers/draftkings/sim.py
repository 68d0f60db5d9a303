"""The simulated DraftKings site: league pages, the sportscontent JSON and the msgpack websocket.

It speaks the wire format of wire-formats.md (DraftKings) and encodes everything itself: it never
imports the parser, so the parser and the simulator cannot share a mistake. Where the docs say a
layout is inferred, the choice made here is written next to the encoder.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
import math
import random
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from typing import Any, Literal

import msgpack
from aiohttp import WSMsgType, web

from snuper.sim.options import SimOptions
from snuper.sim.script import Script, default_scenarios, ticker
from snuper.sim.sockets import SimSocket, SocketHub
from snuper.slate import SLATE_ZONE

log = logging.getLogger("snuper.sim.draftkings")

Outcome = Literal["Home", "Away", "Over", "Under"]
MarketKind = Literal["moneyline", "spread", "total"]
StepKind = Literal["price", "line", "suspend", "resume", "end"]

MALFORMED_FRAME = b"\xc1garbage"  # 0xc1 is the one byte msgpack never uses
EVENT_TAGS = (
    "FeaturedSubcategory",
    "MatchTracker",
    "OSB",
    "SGP",
    "Scoreboard",
    "SgpDynamicOdds",
    "Stats",
    "YourBetEligible",
)
# At game end the captures show the betting tags dropped before the deletes arrive.
ENDED_EVENT_TAGS = ("MatchTracker", "Scoreboard", "Stats")
ENDED_STATUS = "FINISHED"  # inferred: the captured end frames still said STARTED, then deleted
MARKET_TAGS = ("SGP", "YourBetEligible", "Cashout", "FeaturedSubcategory", "OSB", "PrimaryMarket")


@dataclass(frozen=True, slots=True)
class LeagueInfo:
    league: str
    league_id: str
    subcategory_id: str
    category_id: str
    sport_id: str
    sport_seo: str
    sport_name: str
    spread_name: str


LEAGUES: dict[str, LeagueInfo] = {
    "nba": LeagueInfo("nba", "42648", "4511", "487", "2", "basketball", "Basketball", "Spread"),
    "nfl": LeagueInfo("nfl", "88808", "4518", "492", "3", "football", "Football", "Spread"),
    "mlb": LeagueInfo("mlb", "84240", "4519", "493", "7", "baseball", "Baseball", "Run Line"),
}
_BY_LEAGUE_ID = {info.league_id: info for info in LEAGUES.values()}

_TEAMS: dict[str, tuple[tuple[str, str], ...]] = {
    "nba": (
        ("ATL", "Hawks"), ("BOS", "Celtics"), ("BKN", "Nets"), ("CHA", "Hornets"),
        ("CHI", "Bulls"), ("CLE", "Cavaliers"), ("DAL", "Mavericks"), ("DEN", "Nuggets"),
        ("DET", "Pistons"), ("GS", "Warriors"), ("HOU", "Rockets"), ("IND", "Pacers"),
        ("LAC", "Clippers"), ("LAL", "Lakers"), ("MEM", "Grizzlies"), ("MIA", "Heat"),
        ("MIL", "Bucks"), ("MIN", "Timberwolves"), ("NO", "Pelicans"), ("NY", "Knicks"),
        ("OKC", "Thunder"), ("ORL", "Magic"), ("PHI", "76ers"), ("PHO", "Suns"),
        ("POR", "Trail Blazers"), ("SAC", "Kings"), ("SA", "Spurs"), ("TOR", "Raptors"),
        ("UTA", "Jazz"), ("WAS", "Wizards"),
    ),
    "nfl": (
        ("ARI", "Cardinals"), ("ATL", "Falcons"), ("BAL", "Ravens"), ("BUF", "Bills"),
        ("CAR", "Panthers"), ("CHI", "Bears"), ("CIN", "Bengals"), ("CLE", "Browns"),
        ("DAL", "Cowboys"), ("DEN", "Broncos"), ("DET", "Lions"), ("GB", "Packers"),
        ("HOU", "Texans"), ("IND", "Colts"), ("JAX", "Jaguars"), ("KC", "Chiefs"),
        ("LV", "Raiders"), ("LAC", "Chargers"), ("LAR", "Rams"), ("MIA", "Dolphins"),
        ("MIN", "Vikings"), ("NE", "Patriots"), ("NO", "Saints"), ("NYG", "Giants"),
        ("NYJ", "Jets"), ("PHI", "Eagles"), ("PIT", "Steelers"), ("SF", "49ers"),
        ("SEA", "Seahawks"), ("TB", "Buccaneers"), ("TEN", "Titans"), ("WAS", "Commanders"),
    ),
    "mlb": (
        ("ARI", "Diamondbacks"), ("ATL", "Braves"), ("BAL", "Orioles"), ("BOS", "Red Sox"),
        ("CHC", "Cubs"), ("CWS", "White Sox"), ("CIN", "Reds"), ("CLE", "Guardians"),
        ("COL", "Rockies"), ("DET", "Tigers"), ("HOU", "Astros"), ("KC", "Royals"),
        ("LAA", "Angels"), ("LAD", "Dodgers"), ("MIA", "Marlins"), ("MIL", "Brewers"),
        ("MIN", "Twins"), ("NYM", "Mets"), ("NYY", "Yankees"), ("ATH", "Athletics"),
        ("PHI", "Phillies"), ("PIT", "Pirates"), ("SD", "Padres"), ("SF", "Giants"),
        ("SEA", "Mariners"), ("STL", "Cardinals"), ("TB", "Rays"), ("TEX", "Rangers"),
        ("TOR", "Blue Jays"), ("WAS", "Nationals"),
    ),
}  # fmt: skip
# DraftKings writes "LA Lakers", "NY Giants", "CHI White Sox": a city code, not the short code.
_CITY = {"LAC": "LA", "LAL": "LA", "LAR": "LA", "LAA": "LA", "LAD": "LA", "NYG": "NY",
         "NYJ": "NY", "NYM": "NY", "NYY": "NY", "CHC": "CHI", "CWS": "CHI"}  # fmt: skip


# --- scenario ------------------------------------------------------------------------------


@dataclass(slots=True)
class SimSelection:
    selection_id: str
    market_id: str
    label: str
    outcome: Outcome
    american: int
    points: float | None


@dataclass(slots=True)
class SimMarket:
    market_id: str
    event_id: str
    kind: MarketKind
    suspended: bool = False


@dataclass(slots=True)
class SimEvent:
    event_id: str
    home: str
    away: str
    home_short: str
    away_short: str
    start: datetime

    @property
    def name(self) -> str:
        return f"{self.away} @ {self.home}"

    @property
    def seo(self) -> str:
        """'tb-buccaneers-%40-dal-cowboys', as the real site builds its event slugs."""
        return self.name.lower().replace(" ", "-").replace("@", "%40")


@dataclass(frozen=True, slots=True)
class Step:
    at: float
    kind: StepKind
    event_id: str
    market_id: str | None = None
    outcome: str | None = None
    american: int | None = None
    points: float | None = None


@dataclass(slots=True)
class Scenario:
    league: str
    events: list[SimEvent]
    markets: list[SimMarket]
    selections: list[SimSelection]
    steps: list[Step]


_KIND_BY_PREFIX: dict[str, MarketKind] = {"1": "moneyline", "2": "spread", "3": "total"}
_PREFIX_BY_KIND = {kind: prefix for prefix, kind in _KIND_BY_PREFIX.items()}
_BET_OFFER_TYPE = {"moneyline": 2, "spread": 1, "total": 6}


def market_kind(market_id: str) -> MarketKind:
    prefix, _, _ = market_id.partition("_")
    try:
        return _KIND_BY_PREFIX[prefix]
    except KeyError:
        raise ValueError(f"not a game-line market id: {market_id!r}") from None


def selection_id(market_id: str, outcome: str, points: float | None) -> str:
    """DraftKings selection ids encode the market and, for spreads and totals, the line."""
    kind = market_kind(market_id)
    num = market_id.partition("_")[2]
    if kind == "total":
        if outcome not in ("Over", "Under") or points is None:
            raise ValueError(f"a total selection needs Over/Under and points: {outcome} {points}")
        side = "O" if outcome == "Over" else "U"
        return f"0OU{num}{side}{round(points * 100)}_{1 if outcome == 'Over' else 3}"
    if outcome not in ("Home", "Away"):
        raise ValueError(f"a {kind} selection is Home or Away: {outcome}")
    suffix = 1 if outcome == "Home" else 3
    if kind == "moneyline":
        return f"0ML{num}_{suffix}"
    if points is None:
        raise ValueError("a spread selection needs points")
    sign = "N" if points < 0 else "P"  # the sign of this selection's own points
    return f"0HC{num}{sign}{round(abs(points) * 100)}_{suffix}"


def _to_cents(american: int) -> int:
    """+100 -> 0, +110 -> 10, -110 -> -10: a scale on which prices move smoothly through EVEN."""
    return american - 100 if american >= 100 else american + 100


def _from_cents(cents: int) -> int:
    return cents + 100 if cents >= 0 else cents - 100


def _american_for(prob: float) -> int:
    raw = -100 * prob / (1 - prob) if prob >= 0.5 else 100 * (1 - prob) / prob
    rounded = 5 * round(raw / 5)
    return 100 if -100 < rounded < 100 or rounded == -100 else rounded


_PAIR_PRICES = ((-110, -110), (-105, -115), (-108, -112), (-112, -108), (-115, -105))
_RUN_LINE_PRICES = ((140, -165), (125, -150), (155, -185))  # (favourite -1.5, underdog +1.5)


def generate_scenario(
    league: str, *, seed: int, slate_day: date, n_events: int = 3, duration: float = 1800.0
) -> Scenario:
    """A deterministic slate and its moves for one league (events, markets, prices, steps)."""
    if league not in LEAGUES:
        raise ValueError(f"no DraftKings simulation for league {league!r}")
    if n_events < 1:
        raise ValueError("n_events must be >= 1")
    rng = random.Random(seed ^ zlib.crc32(league.encode()))
    index = list(LEAGUES).index(league)
    teams = list(_TEAMS[league])
    rng.shuffle(teams)
    events: list[SimEvent] = []
    markets: list[SimMarket] = []
    selections: list[SimSelection] = []
    event_num = 34_100_000 + index * 1_000_000 + rng.randrange(100_000)
    market_num = 84_600_000 + index * 1_000_000 + rng.randrange(100_000)
    evening = datetime.combine(slate_day, time(19, 0), SLATE_ZONE)
    for i in range(n_events):
        (home_short, home_nick), (away_short, away_nick) = (
            teams[(2 * i) % len(teams)],
            teams[(2 * i + 1) % len(teams)],
        )
        start = evening + timedelta(minutes=30 * (i // 2) + rng.choice((0, 0, 10, 15)))
        event = SimEvent(
            event_id=str(event_num),
            home=f"{_CITY.get(home_short, home_short)} {home_nick}",
            away=f"{_CITY.get(away_short, away_short)} {away_nick}",
            home_short=home_short,
            away_short=away_short,
            start=start.astimezone(UTC),
        )
        events.append(event)
        num = str(market_num)
        event_num += rng.randint(3, 60)
        market_num += rng.randint(20, 400)
        for kind in ("moneyline", "spread", "total"):
            markets.append(SimMarket(f"{_PREFIX_BY_KIND[kind]}_{num}", event.event_id, kind))
        selections.extend(_opening_selections(rng, league, event, num, exact_even=i == 0))
    steps = _generate_steps(rng, league, events, markets, selections, duration)
    return Scenario(league, events, markets, selections, steps)


def _opening_selections(
    rng: random.Random, league: str, event: SimEvent, num: str, *, exact_even: bool
) -> list[SimSelection]:
    home_prob = rng.uniform(0.25, 0.78)
    vig = 0.0225
    home_fav = home_prob >= 0.5
    if league == "mlb":
        mag = 1.5
        fav_price, dog_price = rng.choice(_RUN_LINE_PRICES)
        spread_home, spread_away = (fav_price, dog_price) if home_fav else (dog_price, fav_price)
    else:
        # The spread follows the moneyline: a bigger favourite gives more points.
        scale = 36 if league == "nba" else 28
        mag = min(max(round(abs(home_prob - 0.5) * scale), 1), 14) + rng.choice((-0.5, 0.5))
        spread_home, spread_away = rng.choice(_PAIR_PRICES)
    home_points = -mag if home_fav else mag
    total = {
        "nba": rng.randint(205, 240) + 0.5,
        "nfl": rng.randint(37, 52) + 0.5,
        "mlb": rng.choice((7.5, 8.0, 8.5, 9.0, 9.5)),
    }[league]
    # The first event's Under is exactly +100 so the "EVEN" display is always exercised.
    over, under = (-120, 100) if exact_even else rng.choice(_PAIR_PRICES)
    ml, hc, ou = f"1_{num}", f"2_{num}", f"3_{num}"
    return [
        SimSelection(
            selection_id(ml, "Away", None),
            ml,
            event.away,
            "Away",
            _american_for(1 - home_prob + vig),
            None,
        ),
        SimSelection(
            selection_id(ml, "Home", None),
            ml,
            event.home,
            "Home",
            _american_for(home_prob + vig),
            None,
        ),
        SimSelection(
            selection_id(hc, "Away", -home_points),
            hc,
            event.away,
            "Away",
            spread_away,
            -home_points,
        ),
        SimSelection(
            selection_id(hc, "Home", home_points), hc, event.home, "Home", spread_home, home_points
        ),
        SimSelection(selection_id(ou, "Over", total), ou, "Over", "Over", over, total),
        SimSelection(selection_id(ou, "Under", total), ou, "Under", "Under", under, total),
    ]


@dataclass(frozen=True, slots=True)
class _Intent:
    at: float
    kind: StepKind
    event_id: str
    market_id: str | None = None
    outcome: str | None = None
    line_shift: float = 0.0


def _generate_steps(
    rng: random.Random,
    league: str,
    events: list[SimEvent],
    markets: list[SimMarket],
    selections: list[SimSelection],
    duration: float,
) -> list[Step]:
    outcomes = {
        "moneyline": ("Home", "Away"),
        "spread": ("Home", "Away"),
        "total": ("Over", "Under"),
    }
    by_event = {e.event_id: [m for m in markets if m.event_id == e.event_id] for e in events}
    # One quiet event per league (the last) so a monitor has something to write heartbeats for;
    # a one-event league keeps its moves instead, since the line move matters more.
    quiet = events[-1].event_id if len(events) >= 2 else None
    intents: list[_Intent] = []
    ends = sorted(rng.uniform(0.6, 0.95) * duration for _ in events)
    for i, event in enumerate(events):
        event_markets = by_event[event.event_id]
        if event.event_id == quiet:
            moneyline = event_markets[0]
            intents.append(
                _Intent(
                    0.8 * duration,
                    "price",
                    event.event_id,
                    moneyline.market_id,
                    rng.choice(outcomes["moneyline"]),
                )
            )
            intents.append(_Intent(duration, "end", event.event_id))
            continue
        for _ in range(rng.randint(3, 5)):
            market = rng.choice(event_markets)
            intents.append(
                _Intent(
                    rng.uniform(0.02, 0.55) * duration,
                    "price",
                    event.event_id,
                    market.market_id,
                    rng.choice(outcomes[market.kind]),
                )
            )
        intents.append(_Intent(ends[i], "end", event.event_id))
    first = events[0].event_id
    spread, total = by_event[first][1], by_event[first][2]
    line_market = total if league == "mlb" else spread  # the MLB run line stays at 1.5
    line_outcome = "Over" if line_market is total else "Home"
    intents.append(
        _Intent(
            rng.uniform(0.1, 0.2) * duration,
            "line",
            first,
            line_market.market_id,
            line_outcome,
            rng.choice((-1.0, 1.0)),
        )
    )
    if len(events) >= 3:
        second_total = by_event[events[1].event_id][2]
        intents.append(
            _Intent(
                rng.uniform(0.2, 0.5) * duration,
                "line",
                events[1].event_id,
                second_total.market_id,
                "Over",
                rng.choice((-0.5, 0.5, 1.0)),
            )
        )
    suspend_at = rng.uniform(0.25, 0.35) * duration
    intents.append(_Intent(suspend_at, "suspend", first, spread.market_id))
    intents.append(_Intent(suspend_at + 0.05 * duration, "resume", first, spread.market_id))
    intents.sort(key=lambda it: it.at)
    # Turn intents into concrete steps by replaying them, so each price move starts from the
    # price the selection really has at that moment (line moves included).
    world = LeagueWorld(Scenario(league, events, markets, selections, []))
    steps: list[Step] = []
    for it in intents:
        step = Step(round(it.at, 3), it.kind, it.event_id, it.market_id)
        if it.kind == "price" and it.market_id and it.outcome:
            current = world.find_selection(it.market_id, it.outcome)
            delta = rng.choice((-20, -15, -10, -5, 5, 10, 15, 20))
            new = _from_cents(_to_cents(current.american) + delta)
            step = replace(step, outcome=it.outcome, american=new)
        elif it.kind == "line" and it.market_id and it.outcome:
            current = world.find_selection(it.market_id, it.outcome)
            assert current.points is not None
            step = replace(
                step,
                outcome=it.outcome,
                points=current.points + it.line_shift,
                american=rng.choice((-115, -110, -105)),
            )
        world.apply(step)
        steps.append(step)
    return steps


# --- wire encoding -------------------------------------------------------------------------


def american_text(american: int) -> str:
    """'+350', '−455' (U+2212), and 'EVEN' for +100, as DraftKings displays them."""
    if american == 100:
        return "EVEN"
    return f"+{american}" if american > 0 else f"\u2212{-american}"


def true_odds(american: int) -> float:
    exact = 1 + american / 100 if american > 0 else 1 + 100 / -american
    return round(exact, 8)


def display_odds(american: int) -> list[str]:
    """[american, decimal, fractional, percentage, priceGraphPercentage, multiplier]."""
    frac = Fraction(american, 100) if american > 0 else Fraction(100, -american)
    decimal = math.floor((1 + float(frac)) * 100 + 1e-9) / 100  # DK truncates: 1.2198 -> 1.21
    pct = f"{math.floor(100 / (1 + float(frac)) + 1e-9)}%"
    return [
        american_text(american),
        f"{decimal:.2f}",
        f"{frac.numerator}/{frac.denominator}",
        pct,
        pct,
        f"{decimal:.2f}x",
    ]


def _ts(moment: datetime) -> msgpack.Timestamp:
    return msgpack.Timestamp.from_datetime(moment)


def _iso_ms(moment: datetime) -> str:
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def _rest_date(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond * 10:07d}Z"


def _participant_id(name: str) -> str:
    return str(10_000 + zlib.crc32(name.encode()) % 90_000)


@dataclass(slots=True)
class Delta:
    """What one step changed, as type-tagged msgpack rows, before grouping by entity."""

    event_id: str
    event_inserts: list[list[Any]] = field(default_factory=list)  # initial data only
    event_changes: list[list[Any]] = field(default_factory=list)
    event_deletes: list[str] = field(default_factory=list)
    market_inserts: list[list[Any]] = field(default_factory=list)
    market_changes: list[list[Any]] = field(default_factory=list)
    market_deletes: list[str] = field(default_factory=list)
    selection_inserts: list[list[Any]] = field(default_factory=list)
    selection_changes: list[list[Any]] = field(default_factory=list)
    selection_deletes: list[str] = field(default_factory=list)

    def groups(
        self, entity: str, *, event_only: bool = False, keep_empty: bool = False
    ) -> list[list[list[Any]]] | None:
        """[inserts, deletes, changes] for a subscription's entity; None when it sees nothing
        (unless keep_empty: an initial state is sent even when it lists nothing).

        Entity events: inserts hold 5 lists (events, markets, selections, leagues, sports),
        deletes and changes 3; entity markets: 2 each (as in the captures).
        """
        if entity == "events":
            rows: list[list[list[Any]]]
            if event_only:  # includeMarkets 'none': the event rows only
                rows = [
                    [self.event_inserts, [], [], [], []],
                    [self.event_deletes, [], []],
                    [self.event_changes, [], []],
                ]
            else:
                rows = [
                    [self.event_inserts, self.market_inserts, self.selection_inserts, [], []],
                    [self.event_deletes, self.market_deletes, self.selection_deletes],
                    [self.event_changes, self.market_changes, self.selection_changes],
                ]
        elif entity == "markets":
            rows = [
                [self.market_inserts, self.selection_inserts],
                [self.market_deletes, self.selection_deletes],
                [self.market_changes, self.selection_changes],
            ]
        else:
            return None
        return rows if keep_empty or any(lst for group in rows for lst in group) else None


class LeagueWorld:
    """The current state of one league (steps applied so far) and its encoders."""

    def __init__(self, scenario: Scenario) -> None:
        scenario = copy.deepcopy(scenario)  # steps mutate the world; the caller keeps its copy
        self.info = LEAGUES[scenario.league]
        self.events: dict[str, SimEvent] = {e.event_id: e for e in scenario.events}
        self.markets: dict[str, SimMarket] = {m.market_id: m for m in scenario.markets}
        self.selections: dict[str, SimSelection] = {s.selection_id: s for s in scenario.selections}
        self.status: dict[str, str] = dict.fromkeys(self.events, "NOT_STARTED")
        self.tags: dict[str, tuple[str, ...]] = dict.fromkeys(self.events, EVENT_TAGS)
        self.ended: set[str] = set()  # events deleted at their end: in no later state

    def find_selection(self, market_id: str, outcome: str) -> SimSelection:
        for sel in self.selections.values():
            if sel.market_id == market_id and sel.outcome == outcome:
                return sel
        raise KeyError(f"no {outcome} selection in market {market_id}")

    def markets_of(self, event_id: str) -> list[SimMarket]:
        return [m for m in self.markets.values() if m.event_id == event_id]

    def selections_of(self, market_id: str) -> list[SimSelection]:
        return [s for s in self.selections.values() if s.market_id == market_id]

    # -- steps --

    def apply(self, step: Step) -> list[Delta]:
        """Change the world and say what changed, one Delta per frame to send."""
        if step.event_id not in self.events:
            raise KeyError(f"step for unknown event {step.event_id}")
        if step.kind == "end":
            return self._end(step.event_id)
        if step.market_id is None or step.market_id not in self.markets:
            raise KeyError(f"{step.kind} step for unknown market {step.market_id}")
        market = self.markets[step.market_id]
        delta = Delta(step.event_id)
        if step.kind in ("suspend", "resume"):
            market.suspended = step.kind == "suspend"
            delta.market_changes.append(self.ws_market_change(market))
        elif step.kind == "price":
            if step.outcome is None or step.american is None:
                raise ValueError(f"a price step needs outcome and american: {step}")
            sel = self.find_selection(market.market_id, step.outcome)
            sel.american = step.american
            delta.selection_changes.append(self.ws_selection_change(sel))
        elif step.kind == "line":
            self._line(market, step, delta)
        else:
            raise ValueError(f"unknown step kind {step.kind!r}")
        return [delta]

    def _line(self, market: SimMarket, step: Step, delta: Delta) -> None:
        if market.kind == "moneyline" or step.outcome is None or step.points is None:
            raise ValueError(f"a line step needs a spread/total market, outcome and points: {step}")
        rebuilt: dict[str, SimSelection] = {}
        for sel_id, sel in self.selections.items():
            if sel.market_id != market.market_id:
                rebuilt[sel_id] = sel
                continue
            mine = sel.outcome == step.outcome
            points = step.points if mine or market.kind == "total" else -step.points
            american = step.american if mine and step.american is not None else sel.american
            new = replace(
                sel,
                points=points,
                american=american,
                selection_id=selection_id(market.market_id, sel.outcome, points),
            )
            rebuilt[new.selection_id] = new
            if new.selection_id == sel_id:  # same line: only the price can have changed
                delta.selection_changes.append(self.ws_selection_change(new))
            else:
                delta.selection_inserts.append(self.ws_selection(new, replaced=sel_id))
                delta.selection_deletes.append(sel_id)
        self.selections = rebuilt

    def _end(self, event_id: str) -> list[Delta]:
        """Tags shrink and the status changes, then the event, its markets and selections are
        deleted one frame each (the captured game-end order)."""
        self.status[event_id] = ENDED_STATUS
        self.tags[event_id] = ENDED_EVENT_TAGS
        deltas = [Delta(event_id, event_changes=[self.ws_event_change(self.events[event_id])])]
        deltas.append(Delta(event_id, event_deletes=[event_id]))
        markets = self.markets_of(event_id)
        doomed = [s for m in markets for s in self.selections_of(m.market_id)]
        deltas.extend(Delta(event_id, market_deletes=[m.market_id]) for m in markets)
        deltas.extend(Delta(event_id, selection_deletes=[s.selection_id]) for s in doomed)
        for sel in doomed:
            del self.selections[sel.selection_id]
        for market in markets:
            del self.markets[market.market_id]
        del self.events[event_id]
        self.ended.add(event_id)
        return deltas

    # -- websocket rows --

    def _sel_sort(self, sel: SimSelection) -> int:
        if sel.points is None:
            return 1 if sel.outcome == "Away" else 3
        base = round(abs(sel.points) * 1000)
        return base - 1 if sel.outcome in ("Away", "Over") else base + 1

    def _ws_participants(self, sel: SimSelection) -> list[Any]:
        # Inferred layout, following the REST participant's key order:
        # [id, name, type, seoIdentifier, venueRole, isNationalTeam, countryCode, metadata].
        if sel.outcome not in ("Home", "Away"):
            return []
        nick = sel.label.split(" ", 1)[-1]
        return [[_participant_id(sel.label), sel.label, "Team", nick, sel.outcome, False, "US", {}]]

    def ws_event_change(self, event: SimEvent) -> list[Any]:
        """22: [id, startDate (timestamp), participants, status, period, scoreboard, tags, metadata,
        sortOrder, detailed scoreboard] (positions as captured; scoreboards left empty)."""
        participants = [
            [
                _participant_id(name),
                name,
                role,
                "Team",
                {"shortName": short},
                order,
                name.split(" ", 1)[-1],
                [],
                False,
                "US",
            ]
            for name, role, short, order in (
                (event.home, "Home", event.home_short, 2),
                (event.away, "Away", event.away_short, 1),
            )
        ]
        return [
            22,
            [
                event.event_id,
                _ts(event.start),
                participants,
                self.status[event.event_id],
                None,
                None,
                list(self.tags[event.event_id]),
                {},
                int(event.event_id),
                None,
            ],
        ]

    def ws_market(self, market: SimMarket) -> list[Any]:
        """34, inferred: [id, eventId, leagueId, subcategoryId, name, isSuspended, sortOrder,
        [marketTypeId, betOfferTypeId, name], tags, metadata]. Index 0, 1, 4, 5 and 7 are where
        a public decoder of live traffic reads id, event, name, suspension and market type."""
        name = self.market_name(market)
        market_type = [f"{_PREFIX_BY_KIND[market.kind]}_0", _BET_OFFER_TYPE[market.kind], name]
        return [
            34,
            [
                market.market_id,
                market.event_id,
                self.info.league_id,
                self.info.subcategory_id,
                name,
                market.suspended,
                self._market_sort(market),
                market_type,
                list(MARKET_TAGS),
                {},
            ],
        ]

    def ws_market_change(self, market: SimMarket) -> list[Any]:
        """23: [id, name, isSuspended, tags, sortOrder, isTeamInPossession] (the JSON flavour's
        market change keys, in order)."""
        return [
            23,
            [
                market.market_id,
                self.market_name(market),
                market.suspended,
                list(MARKET_TAGS),
                self._market_sort(market),
                False,
            ],
        ]

    def ws_selection(self, sel: SimSelection, *, replaced: str | None = None) -> list[Any]:
        """35: [id, marketId, label, odds, trueOdds, points, outcomeType, participants, sortOrder,
        tags, replacedSelectionId, metadata]."""
        return [
            35,
            [
                sel.selection_id,
                sel.market_id,
                sel.label,
                display_odds(sel.american),
                true_odds(sel.american),
                sel.points,
                sel.outcome,
                self._ws_participants(sel),
                self._sel_sort(sel),
                self._sel_tags(sel),
                replaced,
                {},
            ],
        ]

    def ws_selection_change(self, sel: SimSelection) -> list[Any]:
        """24: [id, label, odds, trueOdds, points, sortOrder, tags, replacedSelectionId]."""
        return [
            24,
            [
                sel.selection_id,
                sel.label,
                display_odds(sel.american),
                true_odds(sel.american),
                sel.points,
                self._sel_sort(sel),
                self._sel_tags(sel),
                None,
            ],
        ]

    def initial_rows(self, event_ids: list[str]) -> Delta:
        """The initial data of a subscription: the current state of `event_ids`, as inserts only.

        Inferred (no capture holds an initial-state frame): each event as a row in the inserts
        group's event list, with the one event layout captured (22), then its markets (34) and
        selections (35). An ended event is no longer in the world, so it is never listed."""
        delta = Delta(event_ids[0] if event_ids else "")
        for event_id in event_ids:
            delta.event_inserts.append(self.ws_event_change(self.events[event_id]))
            for market in self.markets_of(event_id):
                delta.market_inserts.append(self.ws_market(market))
                delta.selection_inserts.extend(
                    self.ws_selection(s) for s in self.selections_of(market.market_id)
                )
        return delta

    # -- REST --

    def market_name(self, market: SimMarket) -> str:
        return {"moneyline": "Moneyline", "spread": self.info.spread_name, "total": "Total"}[
            market.kind
        ]

    def _market_sort(self, market: SimMarket) -> int:
        return int(_PREFIX_BY_KIND[market.kind] + market.market_id.partition("_")[2])

    def _sel_tags(self, sel: SimSelection) -> list[str]:
        return ["SGP", "OSB"] if sel.points is None else ["MainPointLine", "SGP", "OSB"]

    def sportscontent(self) -> dict[str, Any]:
        """The league's sportscontent JSON, current state; false booleans omitted like the REST."""
        info = self.info
        events = []
        for event in self.events.values():
            events.append(
                {
                    "id": event.event_id,
                    "seoIdentifier": event.seo,
                    "sportId": info.sport_id,
                    "leagueId": info.league_id,
                    "name": event.name,
                    "startEventDate": _rest_date(event.start),
                    "participants": [
                        {
                            "id": _participant_id(name),
                            "name": name,
                            "venueRole": role,
                            "type": "Team",
                            "metadata": {"shortName": short},
                            "sortOrder": order,
                            "seoIdentifier": name.split(" ", 1)[-1],
                            "countryCode": "US",
                        }
                        for name, role, short, order in (
                            (event.home, "Home", event.home_short, 2),
                            (event.away, "Away", event.away_short, 1),
                        )
                    ],
                    "eventParticipantType": "TwoTeam",
                    "status": self.status[event.event_id],
                    "tags": list(self.tags[event.event_id]),
                    "metadata": {},
                    "sortOrder": int(event.event_id),
                }
            )
        markets = []
        for market in self.markets.values():
            name = self.market_name(market)
            row: dict[str, Any] = {
                "id": market.market_id,
                "eventId": market.event_id,
                "sportId": info.sport_id,
                "leagueId": info.league_id,
                "name": name,
                "subcategoryId": info.subcategory_id,
                "marketType": {
                    "id": f"{_PREFIX_BY_KIND[market.kind]}_0",
                    "betOfferTypeId": _BET_OFFER_TYPE[market.kind],
                    "name": name,
                },
                "sortOrder": self._market_sort(market),
                "tags": list(MARKET_TAGS),
                "dynamicMetadata": {},
            }
            if market.suspended:
                row["isSuspended"] = True
            markets.append(row)
        selections = []
        for sel in self.selections.values():
            odds = display_odds(sel.american)
            srow: dict[str, Any] = {
                "id": sel.selection_id,
                "marketId": sel.market_id,
                "label": sel.label,
                "displayOdds": {
                    "american": odds[0],
                    "decimal": odds[1],
                    "fractional": odds[2],
                    "percentage": odds[3],
                    "multiplier": odds[5],
                },
                "trueOdds": true_odds(sel.american),
            }
            if sel.points is not None:
                srow["points"] = sel.points
            srow["outcomeType"] = sel.outcome
            if sel.outcome in ("Home", "Away"):
                srow["participants"] = [
                    {
                        "id": _participant_id(sel.label),
                        "name": sel.label,
                        "type": "Team",
                        "seoIdentifier": sel.label.split(" ", 1)[-1],
                        "venueRole": sel.outcome,
                        "countryCode": "US",
                        "metadata": {},
                    }
                ]
            srow.update(sortOrder=self._sel_sort(sel), tags=self._sel_tags(sel), metadata={})
            selections.append(srow)
        return {
            "sports": [
                {
                    "id": info.sport_id,
                    "seoIdentifier": info.sport_seo,
                    "name": info.sport_name,
                    "sortOrder": 1,
                }
            ],
            "leagues": [
                {
                    "id": info.league_id,
                    "seoIdentifier": info.league,
                    "name": info.league.upper(),
                    "sportId": info.sport_id,
                    "sortOrder": 1,
                    "tags": ["Featured"],
                }
            ],
            "events": events,
            "markets": markets,
            "selections": selections,
        }


def rest_json(body: Mapping[str, Any]) -> str:
    """ASCII-escaped like the real REST: U+2212 -> \\u2212, and .NET's encoder also escapes '+'
    and "'" (our numbers never use exponents, so '+' only occurs inside strings)."""
    text = json.dumps(body, ensure_ascii=True, separators=(",", ":"))
    return text.replace("+", "\\u002B").replace("'", "\\u0027")


# --- the live site -------------------------------------------------------------------------


_EVENT_RE = re.compile(r"\b(?:id|eventId) eq '(\d+)'")
_LEAGUE_RE = re.compile(r"\bleagueId eq '(\d+)'")


@dataclass(slots=True, eq=False)
class Subscription:
    sub_id: str
    conn: Connection
    entity: str
    league: str | None
    event_id: str | None  # None: the whole league
    event_only: bool  # includeMarkets 'none': event rows only

    def covers(self, event_id: str) -> bool:
        return self.event_id is None or self.event_id == event_id


@dataclass(slots=True, eq=False)
class Connection(SimSocket[bytes]):
    subs: dict[str, Subscription] = field(default_factory=dict)


@dataclass(slots=True, eq=False, kw_only=True)
class LeagueRuntime(Script[Step]):
    world: LeagueWorld
    subscribers: set[Subscription] = field(default_factory=set)


def _page(info: LeagueInfo) -> str:
    api = f"/api/sportscontent/dkusnj/v1/leagues/{info.league_id}"
    # The page discovers events the way the real one does: its script loads the JSON and renders
    # links, so a real browser (Playwright) is exercised. It retries a refused load, like a user.
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{info.league.upper()} Odds | DraftKings Sportsbook (simulated)</title></head>
<body><main id="league" data-league-id="{info.league_id}">
<p id="status">Loading…</p><ul id="events"></ul></main>
<script>
(async () => {{
  const list = document.getElementById("events");
  const status = document.getElementById("status");
  for (let attempt = 0; attempt < 8; attempt++) {{
    const url = location.origin + "{api}";
    const res = await fetch(url, {{headers: {{"Accept": "application/json"}}}});
    if (res.ok) {{
      const data = await res.json();
      for (const ev of data.events) {{
        const item = document.createElement("li");
        const link = document.createElement("a");
        link.href = "/event/" + ev.seoIdentifier + "/" + ev.id;
        link.textContent = ev.name;
        item.appendChild(link);
        list.appendChild(item);
      }}
      status.textContent = data.events.length + " events";
      document.body.dataset.loaded = "true";
      return;
    }}
    await new Promise((done) => setTimeout(done, 250 * (attempt + 1)));
  }}
  status.textContent = "failed to load";
}})();
</script></body></html>
"""


class DraftKingsSim:
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
        self.sockets: SocketHub[bytes] = SocketHub(
            options.faults, lambda _frame: MALFORMED_FRAME, self._detach_all
        )
        self.http_requests = 0
        self.api_requests = 0
        self._http_failures_left = options.faults.http_failures if options.faults.http_status else 0

    @property
    def frames_sent(self) -> int:
        return self.sockets.frames_sent

    @property
    def connections(self) -> int:
        return self.sockets.connections

    # -- wiring --

    def mount(self, app: web.Application) -> None:
        app[SIM_KEY] = self
        app.router.add_get("/leagues/{sport}/{league}", self._league_page)
        app.router.add_get("/event/{slug}/{event_id}", self._event_page)
        app.router.add_get("/api/sportscontent/{site}/v1/leagues/{league_id}", self._api)
        app.router.add_get(
            "/api/sportscontent/{site}/v1/leagues/{league_id}/categories/{cat}/subcategories/{sub}",
            self._api,
        )
        app.router.add_get("/websocket", self._websocket)
        app.cleanup_ctx.append(ticker(self.tick))
        app.on_shutdown.append(self.sockets.close_all)

    def state(self, league: str) -> dict[str, Any]:
        """The current world of a league, as the sportscontent JSON shows it."""
        return self.leagues[league].world.sportscontent()

    def tick(self) -> None:
        """Fire every step whose time has come on the running league clocks."""
        for runtime in self.leagues.values():
            if not runtime.clock.running:
                continue
            for step in runtime.due():
                try:
                    deltas = runtime.world.apply(step)
                except (KeyError, ValueError):
                    log.exception("skipping a step the scenario cannot apply: %s", step)
                    continue
                for delta in deltas:
                    self._broadcast(runtime, delta)

    def _broadcast(self, runtime: LeagueRuntime, delta: Delta) -> None:
        for sub in list(runtime.subscribers):
            if sub.covers(delta.event_id):
                self._send_update(sub, delta)

    def _send_update(self, sub: Subscription, delta: Delta, *, initial: bool = False) -> None:
        groups = delta.groups(sub.entity, event_only=sub.event_only, keep_empty=initial)
        if groups is None:
            return
        now = datetime.now(UTC)
        times = {
            "createdTime": _iso_ms(now),
            "receivedTime": _iso_ms(now),
            "publishedTime": _iso_ms(now),
        }
        frame = [sub.sub_id, "update", [groups, None, times], None, [_ts(now), 0]]
        sub.conn.queue.put_nowait((msgpack.packb(frame), True))

    @staticmethod
    def _reply(conn: Connection, sub_id: Any, kind: str) -> None:
        frame = [sub_id, kind, None, None, [_ts(datetime.now(UTC)), 0]]
        conn.queue.put_nowait((msgpack.packb(frame), False))

    # -- HTTP --

    async def _http_gate(self, *, api: bool) -> web.Response | None:
        """Counts the request and applies the HTTP faults; a response means 'answer this'."""
        self.http_requests += 1
        faults = self.options.faults
        if faults.delay_s > 0 and self.api_requests >= faults.delay_after_api:
            await asyncio.sleep(faults.delay_s)
        if api:
            self.api_requests += 1
            if self._http_failures_left > 0 and faults.http_status:
                self._http_failures_left -= 1
                headers = {"Retry-After": "1"} if faults.http_status == 429 else {}
                return web.json_response(
                    {"message": "simulated failure"}, status=faults.http_status, headers=headers
                )
        return None

    async def _league_page(self, request: web.Request) -> web.StreamResponse:
        refused = await self._http_gate(api=False)
        if refused is not None:
            return refused
        league = request.match_info["league"]
        info = LEAGUES.get(league)
        if (
            info is None
            or info.sport_seo != request.match_info["sport"]
            or league not in self.leagues
        ):
            raise web.HTTPNotFound(text="no such league")
        return web.Response(text=_page(info), content_type="text/html")

    async def _event_page(self, request: web.Request) -> web.StreamResponse:
        refused = await self._http_gate(api=False)
        if refused is not None:
            return refused
        event_id = request.match_info["event_id"]
        for runtime in self.leagues.values():
            event = runtime.world.events.get(event_id)
            if event is not None:
                title = event.name.replace("&", "&amp;").replace("<", "&lt;")
                html = (
                    f"<!doctype html><html><head><title>{title}</title></head>"
                    f"<body><h1>{title}</h1></body></html>"
                )
                return web.Response(text=html, content_type="text/html")
        raise web.HTTPNotFound(text="no such event")

    async def _api(self, request: web.Request) -> web.StreamResponse:
        refused = await self._http_gate(api=True)
        if refused is not None:
            return refused
        info = _BY_LEAGUE_ID.get(request.match_info["league_id"])
        if info is None or info.league not in self.leagues:
            return web.json_response({"message": "league not found"}, status=404)
        if self.options.faults.unreadable_api:
            return web.json_response({"events": {"redesigned": True}, "markets": "v2"})
        body = rest_json(self.leagues[info.league].world.sportscontent())
        return web.Response(text=body, content_type="application/json")

    # -- websocket --

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        conn = Connection(ws)
        writer = self.sockets.opened(conn)
        try:
            async for msg in ws:
                if msg.type == WSMsgType.BINARY:
                    try:
                        rpc = msgpack.unpackb(msg.data, timestamp=3)
                    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError):
                        log.warning("ignoring an undecodable client frame")
                        continue
                elif msg.type == WSMsgType.TEXT:
                    try:
                        rpc = json.loads(msg.data)
                    except ValueError:
                        continue
                else:
                    continue
                self._handle_rpc(conn, rpc)
        finally:
            self._detach_all(conn)
            self.sockets.closed(conn)
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        return ws

    def _handle_rpc(self, conn: Connection, rpc: Any) -> None:
        if not isinstance(rpc, dict):
            return
        method, sub_id = rpc.get("method"), rpc.get("id")
        if method == "unsubscribe":
            old = conn.subs.pop(str(sub_id), None)
            if old is not None:
                self._detach(old)
            self._reply(conn, sub_id, "unsubscribe")
            return
        if method != "subscribe":
            log.info("ignoring client method %r", method)
            return
        params = rpc.get("params") or {}
        query_params = params.get("queryParams") or {}
        sub = self._subscription(conn, str(sub_id), params, query_params)
        if (previous := conn.subs.pop(sub.sub_id, None)) is not None:
            self._detach(previous)
        conn.subs[sub.sub_id] = sub
        self._reply(conn, sub_id, "subscribed")
        if sub.league is None:
            return  # e.g. ContentCards: acknowledged, never updated
        runtime = self.leagues[sub.league]
        if query_params.get("initialData") is True:
            # The whole current state, even when empty: a client that subscribes after an
            # event ended learns it from its absence.
            ids = [e for e in runtime.world.events if sub.covers(e)]
            self._send_update(sub, runtime.world.initial_rows(ids), initial=True)
        runtime.subscribers.add(sub)
        runtime.clock.start()

    def _subscription(
        self,
        conn: Connection,
        sub_id: str,
        params: Mapping[str, Any],
        query_params: Mapping[str, Any],
    ) -> Subscription:
        entity = str(params.get("entity") or "")
        query = str(query_params.get("query") or "")
        include = query_params.get("includeMarkets")
        league: str | None = None
        event_id: str | None = None
        if entity in ("events", "markets"):
            if match := _EVENT_RE.search(query):
                event_id = match.group(1)
                league = next(
                    (
                        k
                        for k, r in self.leagues.items()
                        if event_id in r.world.events or event_id in r.world.ended
                    ),
                    None,
                )
            else:
                match = _LEAGUE_RE.search(query) or _LEAGUE_RE.search(str(include or ""))
                info = _BY_LEAGUE_ID.get(match.group(1)) if match else None
                league = info.league if info and info.league in self.leagues else None
        event_only = entity == "events" and include == "none"
        return Subscription(sub_id, conn, entity, league, event_id, event_only)

    def _detach_all(self, conn: SimSocket[bytes]) -> None:
        assert isinstance(conn, Connection)
        for sub in list(conn.subs.values()):
            self._detach(sub)
        conn.subs.clear()

    def _detach(self, sub: Subscription) -> None:
        if sub.league is None:
            return
        runtime = self.leagues[sub.league]
        runtime.subscribers.discard(sub)
        if not runtime.subscribers:
            runtime.clock.pause()  # nobody watching: scenario time stands still


SIM_KEY = web.AppKey("draftkings_sim", DraftKingsSim)


def mount_sim(app: web.Application, options: SimOptions) -> None:
    DraftKingsSim(options).mount(app)


def sim_exports(base_url: str) -> dict[str, str]:
    base = base_url.rstrip("/")
    ws_base = "ws" + base.removeprefix("http") if base.startswith("http") else base
    return {"SITE": base, "API": base, "WS": f"{ws_base}/websocket"}
