"""What a scrape loaded and how loading fails, for browser and plain-HTTP scrapes alike (no
Playwright import here: a book scraped over HTTP never loads it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class BrowserError(RuntimeError):
    """The browser could not start or a page did not load what we needed."""


class NotJson(BrowserError):
    """The page's data request answered 200 with something that is not JSON (a bot check)."""


@dataclass(frozen=True, slots=True)
class PageJson:
    url: str
    status: int
    headers: dict[str, str]
    payload: Any


__all__ = ["BrowserError", "NotJson", "PageJson"]
