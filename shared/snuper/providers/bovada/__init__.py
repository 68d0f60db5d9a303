"""Bovada: the coupon API over plain HTTP (no browser), Atmosphere websocket monitor, simulator."""

from snuper.providers.base import FeedFactory, Provider, ScrapeFn, SimHooks
from snuper.providers.bovada.parse import LEAGUES


def _scrape() -> ScrapeFn:
    from snuper.providers.bovada.scrape import scrape

    return scrape


def _feed() -> FeedFactory:
    from snuper.providers.bovada.monitor import build_feed

    return build_feed


def _sim() -> SimHooks:
    from snuper.providers.bovada.sim import mount_sim, sim_exports

    return SimHooks(mount_sim, sim_exports)


PROVIDER = Provider(
    name="bovada",
    leagues=tuple(LEAGUES),
    endpoint_defaults={
        "SITE": "https://www.bovada.lv",
        "API": "https://www.bovada.lv",
        "WS": "wss://services.bovada.lv/services/sports/subscription",
    },
    endpoint_help={
        "SITE": "the site: event links (/sports/...) and the Origin the socket sends",
        "API": "host of the coupon API (/services/sports/event/coupon/events/A/description/...)",
        "WS": "Atmosphere websocket of live odds (/<connection id>?X-Atmosphere-... is appended)",
    },
    load_scrape=_scrape,
    load_feed=_feed,
    load_sim=_sim,
)
