"""What a book plugs into snuper: scrape, a live feed for the monitor engine, and its simulator.

A provider's scrape, feed and simulator modules are imported only when used, so the monitor path
(a Fargate task, a plan function) never loads Playwright or aiohttp.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import import_module
from typing import TYPE_CHECKING, Literal, cast

from snuper.config import Settings, resolve_endpoints
from snuper.feed import Feed
from snuper.model import Snapshot

if TYPE_CHECKING:
    from aiohttp import web
    from playwright.async_api import BrowserContext

    from snuper.sim.options import SimOptions


@dataclass(frozen=True, slots=True)
class ScrapeContext:
    endpoints: Mapping[str, str]
    settings: Settings
    slate: str  # the run's slate date (YYYYMMDD in New York), computed once per run
    now: Callable[[], datetime]  # the wall clock (snapshot times)
    browser: BrowserContext | None = None  # an open browser to reuse (a warm Lambda), or None


FailureKind = Literal["blocked", "unparseable", "failed"]


@dataclass(frozen=True, slots=True)
class ScrapeFailure:
    """A league that could not be scraped: blocked (the book refused us: 403/429, a bot-check
    page), unparseable (it answered something we cannot read), failed (anything else)."""

    league: str
    kind: FailureKind
    reason: str


# Per league, in the order asked and as soon as it is scraped: its snapshot or why there is none.
# An async generator: the caller saves each league on arrival, and may close it early (aclose, or
# cancel the task iterating it), which abandons the league in progress and releases the browser.
ScrapeResults = AsyncGenerator[Snapshot | ScrapeFailure, None]
# (context, leagues) -> the results, one per league
ScrapeFn = Callable[[ScrapeContext, Sequence[str]], ScrapeResults]
# (endpoints, settings, snapshot) -> the feed that watches the snapshot's events
FeedFactory = Callable[[Mapping[str, str], Settings, Snapshot], Feed]
# (app, options) -> mounts the book's simulated routes on the shared simulator app
SimMount = Callable[["web.Application", "SimOptions"], None]
# base URL of the simulator ("http://127.0.0.1:PORT") -> endpoint NAME -> URL on the simulator
SimExports = Callable[[str], dict[str, str]]


@dataclass(frozen=True, slots=True)
class SimHooks:
    mount: SimMount
    exports: SimExports


@dataclass(frozen=True, slots=True)
class Provider:
    """A book. The loaders import the book's scrape, monitor and sim modules on first use."""

    name: str
    leagues: tuple[str, ...]
    endpoint_defaults: Mapping[str, str]
    endpoint_help: Mapping[str, str]
    load_scrape: Callable[[], ScrapeFn]
    load_feed: Callable[[], FeedFactory]
    load_sim: Callable[[], SimHooks]

    @classmethod
    def in_package(
        cls,
        package: str,
        *,
        name: str,
        leagues: tuple[str, ...],
        endpoint_defaults: Mapping[str, str],
        endpoint_help: Mapping[str, str],
    ) -> Provider:
        """A book laid out as every book is: `<package>.scrape.scrape`, `.monitor.build_feed`,
        `.sim.mount_sim` and `.sim.sim_exports`, each module imported on first use."""

        def load_scrape() -> ScrapeFn:
            return cast(ScrapeFn, import_module(f"{package}.scrape").scrape)

        def load_feed() -> FeedFactory:
            return cast(FeedFactory, import_module(f"{package}.monitor").build_feed)

        def load_sim() -> SimHooks:
            sim = import_module(f"{package}.sim")
            return SimHooks(sim.mount_sim, sim.sim_exports)

        return cls(name, leagues, endpoint_defaults, endpoint_help, load_scrape, load_feed,
                   load_sim)  # fmt: skip

    def endpoints(self, env: Mapping[str, str] | None = None) -> dict[str, str]:
        return resolve_endpoints(self.name, self.endpoint_defaults, env)

    def scrape(self, context: ScrapeContext, leagues: Sequence[str]) -> ScrapeResults:
        return self.load_scrape()(context, leagues)

    def feed(self, endpoints: Mapping[str, str], settings: Settings, snapshot: Snapshot) -> Feed:
        return self.load_feed()(endpoints, settings, snapshot)

    def mount_sim(self, app: web.Application, options: SimOptions) -> None:
        self.load_sim().mount(app, options)

    def sim_exports(self, base_url: str) -> dict[str, str]:
        return self.load_sim().exports(base_url)
