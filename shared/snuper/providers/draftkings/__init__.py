"""DraftKings: Playwright scrape of the league pages, msgpack websocket monitor, simulator."""

from snuper.providers.base import Provider
from snuper.providers.draftkings.monitor import build_feed
from snuper.providers.draftkings.parse import LEAGUES
from snuper.providers.draftkings.scrape import scrape
from snuper.providers.draftkings.sim import mount_sim, sim_exports

PROVIDER = Provider(
    name="draftkings",
    leagues=tuple(LEAGUES),
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
    scrape=scrape,
    feed=build_feed,
    mount_sim=mount_sim,
    sim_exports=sim_exports,
)
