"""ScrapeFunction (a Lambda container image)."""
