"""What every browser scrape shares: loading the JSON a league page fetches, retried on
403/429/5xx with capped backoff (at least the server's Retry-After), and the failure kind each
way of failing is reported as (blocked, failed)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from snuper.backoff import Backoff
from snuper.feed import retry_after_s
from snuper.page_data import BrowserError, NotJson, PageJson
from snuper.providers.base import ScrapeFailure

log = logging.getLogger("snuper")

ATTEMPTS = 4
RETRY_STATUSES = frozenset({403, 429, 500, 502, 503, 504})
BLOCKED_STATUSES = frozenset({401, 403, 429})


class ScrapeError(RuntimeError):
    """The book kept answering an HTTP error; `status` is the last one."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


async def with_retries(book: str, attempt_once: Callable[[], Awaitable[PageJson]]) -> PageJson:
    """The first 200 answer of up to ATTEMPTS; ScrapeError after the last."""
    backoff = Backoff(1.0, 20.0)
    for attempt in range(1, ATTEMPTS + 1):
        loaded = await attempt_once()
        if loaded.status == 200:
            return loaded
        if loaded.status not in RETRY_STATUSES or attempt == ATTEMPTS:
            break
        delay = max(backoff.next_delay(), retry_after_s(loaded.headers.get("retry-after")) or 0)
        log.warning("%s: %s answered %d; retry %d in %.1fs",
                    book, loaded.url, loaded.status, attempt, delay)  # fmt: skip
        await asyncio.sleep(delay)
    raise ScrapeError(
        f"{loaded.url} answered HTTP {loaded.status} after {attempt} attempts", loaded.status
    )


def load_failure(league: str, exc: ScrapeError | BrowserError) -> ScrapeFailure:
    """A refusal (401/403/429, a challenge page instead of JSON) is "blocked"; the rest failed."""
    if isinstance(exc, ScrapeError):
        blocked = exc.status in BLOCKED_STATUSES
        return ScrapeFailure(league, "blocked" if blocked else "failed", str(exc))
    return ScrapeFailure(league, "blocked" if isinstance(exc, NotJson) else "failed", str(exc))
