"""A league's script of steps played against its scenario clock, and the ticker that plays it:
what every simulator runs, whatever it does with a step."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Generic, Protocol, Self, TypeVar

from snuper.sim.clock import ScenarioClock
from snuper.sim.options import SimOptions
from snuper.slate import slate_day

TICK_S = 0.02  # real seconds between two looks at the league clocks


class Timed(Protocol):
    @property
    def at(self) -> float: ...


S = TypeVar("S", bound=Timed)


@dataclass(slots=True, eq=False, kw_only=True)
class Script(Generic[S]):
    """Steps in time order and how far the league has got; a simulator's league runtime adds
    its world and listeners to it."""

    steps: list[S]
    clock: ScenarioClock
    next_step: int = field(default=0)

    @classmethod
    def playing(cls, steps: Iterable[S], speed: float, **fields: Any) -> Self:
        """A league at the start of its steps (put in time order), its clock at `speed`;
        `fields` are the simulator's own (its world, its listeners)."""
        return cls(steps=sorted(steps, key=lambda s: s.at), clock=ScenarioClock(speed), **fields)

    @property
    def done(self) -> bool:
        return self.next_step >= len(self.steps)

    def due(self) -> Iterator[S]:
        """The steps whose scenario time has come, each once, in order."""
        now = self.clock.now()
        while self.next_step < len(self.steps) and self.steps[self.next_step].at <= now:
            step = self.steps[self.next_step]
            self.next_step += 1
            yield step


def ticker(tick: Callable[[], None]) -> Callable[[object], AsyncIterator[None]]:
    """An aiohttp cleanup context that calls `tick` every TICK_S while the app runs."""

    async def forever() -> None:
        while True:
            await asyncio.sleep(TICK_S)
            tick()

    async def run(_app: object) -> AsyncIterator[None]:
        task = asyncio.create_task(forever())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return run


G = TypeVar("G")
G_co = TypeVar("G_co", covariant=True)


class Generate(Protocol[G_co]):
    def __call__(self, league: str, *, seed: int, slate_day: date, n_events: int) -> G_co: ...


def default_scenarios(
    options: SimOptions, leagues: Iterable[str], generate: Generate[G]
) -> dict[str, G]:
    """Each league's generated scenario for the options' seed and slate day (default: today in
    New York)."""
    day = options.slate_day or slate_day()
    return {
        league: generate(
            league, seed=options.seed, slate_day=day, n_events=options.events_per_league
        )
        for league in leagues
    }
