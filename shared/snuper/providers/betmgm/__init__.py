"""BetMGM: Playwright scrape of the CDS API the league page calls, polled monitor, simulator."""

from snuper.providers.base import FeedFactory, Provider, ScrapeFn, SimHooks
from snuper.providers.betmgm.parse import LEAGUES


def _scrape() -> ScrapeFn:
    from snuper.providers.betmgm.scrape import scrape

    return scrape


def _feed() -> FeedFactory:
    from snuper.providers.betmgm.monitor import build_feed

    return build_feed


def _sim() -> SimHooks:
    from snuper.providers.betmgm.sim import mount_sim, sim_exports

    return SimHooks(mount_sim, sim_exports)


PROVIDER = Provider(
    name="betmgm",
    leagues=tuple(LEAGUES),
    endpoint_defaults={
        "SITE": "https://sports.{state}.betmgm.com",
        "API": "https://sports.{state}.betmgm.com",
    },
    endpoint_help={
        "SITE": "league pages the scraper opens (/en/sports/basketball-7/betting/usa-9/nba-6004)",
        "API": "host of the CDS API (/cds-api/bettingoffer/fixtures) and /en/api/clientconfig",
    },
    load_scrape=_scrape,
    load_feed=_feed,
    load_sim=_sim,
)
