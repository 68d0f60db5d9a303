"""DraftKings: Playwright scrape of the league pages, msgpack websocket monitor, simulator."""

from snuper.providers.base import FeedFactory, Provider, ScrapeFn, SimHooks


def _scrape() -> ScrapeFn:
    from snuper.providers.draftkings.scrape import scrape

    return scrape


def _feed() -> FeedFactory:
    from snuper.providers.draftkings.monitor import build_feed

    return build_feed


def _sim() -> SimHooks:
    from snuper.providers.draftkings.sim import mount_sim, sim_exports

    return SimHooks(mount_sim, sim_exports)


PROVIDER = Provider(
    name="draftkings",
    # The leagues by name only: their ids live in parse.py, which the registry does not import
    # (every monitor and handler loads the registry; each book's parser only when it is used).
    leagues=("nba", "nfl", "mlb"),
    endpoint_defaults={
        "SITE": "https://sportsbook.draftkings.com",
        "API": "https://sportsbook-nash.draftkings.com",
        "WS": "wss://sportsbook-ws-us-{state}.draftkings.com/websocket",
    },
    endpoint_help={
        "SITE": "league pages the scraper opens (/leagues/basketball/nba, ...)",
        "API": "sportscontent JSON the league page loads (/api/sportscontent/dkus<state>/v1/...)",
        "WS": "msgpack websocket of live odds (?format=msgpack&locale=en is appended)",
    },
    load_scrape=_scrape,
    load_feed=_feed,
    load_sim=_sim,
)
