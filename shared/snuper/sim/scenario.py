"""What every book's simulator plays, whatever its wire format: a league's games with their opening
lines, and a script of moves (price moves, one line move, a suspension, every game ending, the
last one quiet). Each simulator gives the games its own ids and encodes them its own way."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal, Protocol

from snuper.slate import SLATE_ZONE

Kind = Literal["moneyline", "spread", "total"]
SideName = Literal["home", "away", "over", "under"]
StepKind = Literal["price", "line", "suspend", "resume", "end"]
# (kind, [(side, American odds, line)]) per market, in the order moneyline, spread, total
Opening = list[tuple[Kind, list[tuple[SideName, int, float | None]]]]

SIDES: dict[Kind, tuple[SideName, SideName]] = {
    "moneyline": ("home", "away"), "spread": ("home", "away"), "total": ("over", "under"),
}  # fmt: skip

TEAMS: dict[str, tuple[str, ...]] = {
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


@dataclass(frozen=True, slots=True)
class Step:
    """One move at scenario second `at`. For "line", `line` is the moved side's NEW line (the
    other side of a spread gets its negation, a total's other side the same) and `american` the
    moved side's new price; for "price", `american` is the new price."""

    at: float
    kind: StepKind
    event_id: int
    market_id: int | None = None
    side: SideName | None = None
    american: int | None = None
    line: float | None = None


@dataclass(frozen=True, slots=True)
class PlannedGame:
    home: str
    away: str
    start: datetime  # UTC
    opening: Opening


def american_for(prob: float) -> int:
    """A rounded American price for a win probability (multiples of 5; never inside +-100)."""
    raw = -100 * prob / (1 - prob) if prob >= 0.5 else 100 * (1 - prob) / prob
    rounded = 5 * round(raw / 5)
    return 100 if -100 < rounded < 100 or rounded == -100 else rounded


def plan_games(
    rng: random.Random, league: str, slate_day: date, n_events: int
) -> list[PlannedGame]:
    """The slate: from 19:00 in New York, one game every 45 minutes or so, so later games start
    after midnight UTC and still belong to the New York day."""
    if league not in TEAMS or n_events < 1:
        raise ValueError(f"no simulated slate for {league!r} with {n_events} events")
    teams = list(TEAMS[league])
    rng.shuffle(teams)
    evening = datetime.combine(slate_day, time(19, 0), SLATE_ZONE)
    games: list[PlannedGame] = []
    for i in range(n_events):
        home, away = teams[(2 * i) % len(teams)], teams[(2 * i + 1) % len(teams)]
        start = evening + timedelta(minutes=45 * i + rng.choice((0, 5, 10)))
        home_prob = rng.uniform(0.3, 0.75)
        fav = 1.0 if home_prob >= 0.5 else -1.0
        spread = 1.5 if league == "mlb" else rng.randint(1, 9) + 0.5
        total = {"nba": rng.randint(205, 240) + 0.5, "nfl": rng.randint(37, 52) + 0.5,
                 "mlb": rng.choice((7.5, 8.5, 9.5))}[league]  # fmt: skip
        opening: Opening = [
            ("moneyline", [("away", american_for(1 - home_prob + 0.02), None),
                           ("home", american_for(home_prob + 0.02), None)]),
            ("spread", [("away", -110, fav * spread), ("home", -110, -fav * spread)]),
            ("total", [("over", -110, total), ("under", -110, total)]),
        ]  # fmt: skip
        games.append(PlannedGame(home, away, start.astimezone(UTC), opening))
    return games


class Priced(Protocol):
    @property
    def american(self) -> int: ...

    @property
    def line(self) -> float | None: ...


class World(Protocol):
    """A simulator's league state: where a side's price is now, and how a step changes it."""

    def find(self, market_id: int, side: str) -> Priced: ...

    def apply(self, step: Step) -> object: ...


def plan_steps(
    rng: random.Random,
    league: str,
    markets: Sequence[tuple[int, Sequence[tuple[int, Kind]]]],
    world: World,
    duration: float,
) -> list[Step]:
    """The moves of a slate: `markets` is (event id, [(market id, kind)] in the order moneyline,
    spread, total) per game; `world` is a fresh league state the steps are played on, so each
    move starts where the price is."""
    by_event = {event_id: list(ms) for event_id, ms in markets}
    event_ids = [event_id for event_id, _ in markets]
    quiet = event_ids[-1] if len(event_ids) >= 2 else None
    plan: list[Step] = []
    for event_id in event_ids:
        ends_at = duration if event_id == quiet else rng.uniform(0.6, 0.95) * duration
        if event_id != quiet:
            for _ in range(rng.randint(3, 5)):
                market_id, kind = rng.choice(by_event[event_id])
                at = rng.uniform(0.02, 0.55) * duration
                plan.append(Step(at, "price", event_id, market_id, rng.choice(SIDES[kind])))
        plan.append(Step(ends_at, "end", event_id))
    first_id = event_ids[0]
    first = by_event[first_id]
    line_market = first[2][0] if league == "mlb" else first[1][0]
    plan.append(Step(rng.uniform(0.1, 0.2) * duration, "line", first_id, line_market,
                     "over" if league == "mlb" else "home",
                     line=rng.choice((-1.0, 1.0))))  # fmt: skip
    suspend_at = rng.uniform(0.25, 0.35) * duration
    plan.append(Step(suspend_at, "suspend", first_id, first[1][0]))
    plan.append(Step(suspend_at + 0.05 * duration, "resume", first_id, first[1][0]))
    plan.sort(key=lambda s: s.at)
    steps: list[Step] = []
    for step in plan:
        step = replace(step, at=round(step.at, 3))
        if step.kind == "price" and step.market_id is not None and step.side is not None:
            now = world.find(step.market_id, step.side).american
            cents = (now - 100 if now >= 100 else now + 100) + rng.choice((-15, -10, -5, 5, 10))
            step = replace(step, american=cents + 100 if cents >= 0 else cents - 100)
        elif step.kind == "line" and step.market_id is not None and step.side is not None:
            current = world.find(step.market_id, step.side).line
            assert current is not None and step.line is not None
            step = replace(step, line=current + step.line, american=rng.choice((-115, -105)))
        world.apply(step)
        steps.append(step)
    return steps
