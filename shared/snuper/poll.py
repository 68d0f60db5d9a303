"""What every polled book shares (BetMGM now, FanDuel next): the poll cadence, one
httpx.AsyncClient per process, per-host pacing and a concurrency cap.

The rest is already in the library: the poll loop is feed.PollTransport, a round is
feed.http_get_all (a 429/503 leaves as FeedUnavailable with the server's Retry-After, and the
engine's capped backoff waits at least that long), the diff is the engine's Watchlist.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from snuper.config import POLL_CONCURRENCY_VAR, POLL_GAP_VAR

MIN_POLL_INTERVAL_S = 0.5  # a polled book is never asked more often than this
# Seconds between two requests to one host; requests in flight at once (config.py checks both
# at startup, so a bad value is a usage error there and never reaches a running monitor).
GAP_VAR = POLL_GAP_VAR
CONCURRENCY_VAR = POLL_CONCURRENCY_VAR
DEFAULT_CONCURRENCY = 4


def poll_interval(asked: float | None, book_default: float) -> float:
    """The cadence -i asked for (or the book's own when it was not given), never below
    MIN_POLL_INTERVAL_S."""
    return max(MIN_POLL_INTERVAL_S, book_default if asked is None else asked)


@dataclass(frozen=True, slots=True)
class Politeness:
    gap_s: float = 0.25
    max_concurrent: int = DEFAULT_CONCURRENCY

    @classmethod
    def from_env(cls, default_gap_s: float, env: Mapping[str, str] | None = None) -> Politeness:
        """The book's default gap unless SNUPER_POLL_GAP / SNUPER_POLL_CONCURRENCY say otherwise
        (a value that is not a number falls back to the default: politeness never fails a run)."""
        env = os.environ if env is None else env
        gap, cap = default_gap_s, DEFAULT_CONCURRENCY
        with contextlib.suppress(ValueError):
            gap = max(0.0, float(env.get(GAP_VAR, default_gap_s)))
        with contextlib.suppress(ValueError):
            cap = max(1, int(env.get(CONCURRENCY_VAR, cap)))
        return cls(gap, cap)


class PacedTransport(httpx.AsyncBaseTransport):
    """An httpx transport that spaces requests to one host at least `gap_s` apart and keeps at
    most `max_concurrent` in flight; everything else is the wrapped transport's. As a transport,
    it paces every caller of the client (feed.http_get_all included) without a wrapper API."""

    def __init__(self, politeness: Politeness, inner: httpx.AsyncBaseTransport | None = None):
        self.politeness = politeness
        self._inner = inner or httpx.AsyncHTTPTransport()
        self._next_at: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._slots = asyncio.Semaphore(politeness.max_concurrent)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.netloc.decode("ascii", "replace")
        lock = self._locks.setdefault(host, asyncio.Lock())
        loop = asyncio.get_running_loop()
        async with self._slots:
            async with lock:  # one waiter per host at a time keeps the spacing exact
                wait = self._next_at.get(host, 0.0) - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                self._next_at[host] = loop.time() + self.politeness.gap_s
            return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


_CLIENTS: dict[int, httpx.AsyncClient] = {}


def shared_client(user_agent: str, timeout: float, politeness: Politeness) -> httpx.AsyncClient:
    """The process's client for the running event loop: one connection pool and one pacing
    for every league and polled book (the first caller's politeness wins; a new loop, as in
    tests, gets its own client)."""
    loop_id = id(asyncio.get_running_loop())
    client = _CLIENTS.get(loop_id)
    if client is None or client.is_closed:
        client = httpx.AsyncClient(
            transport=PacedTransport(politeness),
            headers={"User-Agent": user_agent, "Accept": "application/json"},
            timeout=timeout,
            follow_redirects=False,  # a 301 from the book is a refusal, not a new address
        )
        _CLIENTS[loop_id] = client
    return client
