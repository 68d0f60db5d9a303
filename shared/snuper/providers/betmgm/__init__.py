"""BetMGM: Playwright scrape of the CDS API the league page calls, polled monitor, simulator."""

from snuper.providers.base import Provider

PROVIDER = Provider.in_package(
    __name__,
    name="betmgm",
    # The leagues by name only: their ids live in parse.py, which the registry does not import
    # (every monitor and handler loads the registry; each book's parser only when it is used).
    leagues=("nba", "nfl", "mlb"),
    endpoint_defaults={
        "SITE": "https://sports.{state}.betmgm.com",
        "API": "https://sports.{state}.betmgm.com",
    },
    endpoint_help={
        "SITE": "league pages the scraper opens (/en/sports/basketball-7/betting/usa-9/nba-6004)",
        "API": "host of the CDS API (/cds-api/bettingoffer/fixtures) and /en/api/clientconfig",
    },
)
