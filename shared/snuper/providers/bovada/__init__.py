"""Bovada: the coupon API over plain HTTP (no browser), Atmosphere websocket monitor, simulator."""

from snuper.providers.base import Provider

PROVIDER = Provider.in_package(
    __name__,
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
)
