"""DraftKings: Playwright scrape of the league pages, msgpack websocket monitor, simulator."""

from snuper.providers.base import Provider

PROVIDER = Provider.in_package(
    __name__,
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
)
