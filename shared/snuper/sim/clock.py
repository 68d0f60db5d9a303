"""Scenario time for a simulator: compressed, and frozen while nobody is watching.

A league's clock runs only while at least one websocket subscriber of that league is connected,
so a dropped connection loses no scenario events and a test sees the same sequence every run.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class ScenarioClock:
    """Scenario seconds that advance at `speed` x real time, only between start() and pause()."""

    def __init__(self, speed: float, *, timer: Callable[[], float] = time.monotonic) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be > 0: {speed}")
        self.speed = speed
        self._timer = timer
        self._elapsed = 0.0  # scenario seconds accumulated before the current run
        self._started_at: float | None = None  # real time of the current run's start

    @property
    def running(self) -> bool:
        return self._started_at is not None

    def start(self) -> None:
        """Idempotent: starting a running clock does nothing."""
        if self._started_at is None:
            self._started_at = self._timer()

    def pause(self) -> None:
        """Idempotent: the time reached so far is kept."""
        if self._started_at is not None:
            self._elapsed += (self._timer() - self._started_at) * self.speed
            self._started_at = None

    def now(self) -> float:
        """Scenario seconds since the scenario began."""
        if self._started_at is None:
            return self._elapsed
        return self._elapsed + (self._timer() - self._started_at) * self.speed

    def advance(self, seconds: float) -> None:
        """Jump ahead (tests, benchmarks): adds scenario seconds whether running or not."""
        if seconds < 0:
            raise ValueError(f"cannot go back in time: {seconds}")
        self._elapsed += seconds
