"""snuper: sportsbook snapshots and live odds streams."""

__version__ = "0.1.0"
