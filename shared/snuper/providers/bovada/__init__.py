"""Bovada: the coupon API over plain HTTP (no browser), Atmosphere websocket monitor, simulator."""

from snuper.providers.base import FeedFactory, Provider, ScrapeFn, SimHooks


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
    # The leagues by name only: their ids live in parse.py, which the registry does not import
    # (every monitor and handler loads the registry; each book's parser only when it is used).
    leagues=("nba", "nfl", "mlb"),
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
