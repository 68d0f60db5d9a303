"""What a book plugs into snuper: scrape, a live feed for the monitor engine, and its simulator."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from snuper.config import Settings, resolve_endpoints
from snuper.feed import Feed
from snuper.model import Snapshot

if TYPE_CHECKING:
    from aiohttp import web

    from snuper.sim.options import SimOptions


@dataclass(frozen=True, slots=True)
class ScrapeContext:
    endpoints: Mapping[str, str]
    settings: Settings


# (context, leagues) -> one snapshot per league, in the order asked
ScrapeFn = Callable[[ScrapeContext, Sequence[str]], Awaitable[list[Snapshot]]]
# (endpoints, settings, snapshot) -> the feed that watches the snapshot's events
FeedFactory = Callable[[Mapping[str, str], Settings, Snapshot], Feed]
# (app, options) -> mounts the book's simulated routes on the shared simulator app
SimMount = Callable[["web.Application", "SimOptions"], None]
# base URL of the simulator ("http://127.0.0.1:PORT") -> endpoint NAME -> URL on the simulator
SimExports = Callable[[str], dict[str, str]]


@dataclass(frozen=True, slots=True)
class Provider:
    name: str
    leagues: tuple[str, ...]
    endpoint_defaults: Mapping[str, str]
    endpoint_help: Mapping[str, str]
    scrape: ScrapeFn
    feed: FeedFactory
    mount_sim: SimMount
    sim_exports: SimExports

    def endpoints(self, env: Mapping[str, str] | None = None) -> dict[str, str]:
        return resolve_endpoints(self.name, self.endpoint_defaults, env)
