"""FanDuel: Playwright scrape of the league page's JSON, getMarketPrices polled, simulator."""

from snuper.providers.base import Provider

PROVIDER = Provider.in_package(
    __name__,
    name="fanduel",
    # The leagues by name only: their ids live in parse.py, which the registry does not import
    # (every monitor and handler loads the registry; each book's parser only when it is used).
    leagues=("nba", "nfl", "mlb"),
    endpoint_defaults={
        "SITE": "https://sportsbook.fanduel.com",
        "API": "https://sbapi.{state}.sportsbook.fanduel.com",
        "PRICES": "https://smp.{state}.sportsbook.fanduel.com",
    },
    endpoint_help={
        "SITE": "league pages the scraper opens (/navigation/nba, ...)",
        "API": "host of the page JSON (/api/content-managed-page, /api/event-page)",
        "PRICES": "host of the live prices (/api/sports/fixedodds/readonly/v1/getMarketPrices)",
    },
)
