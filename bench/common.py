"""What several figures share: the frozen clock the e2e tests use, and the CLI's environment."""

from __future__ import annotations

import sys
from pathlib import Path

# The same frozen clock, slate day and CLI environment as the e2e tests: one definition.
from tests.e2e.cli import FROZEN_DAY, FROZEN_NOW, cli_env

__all__ = ["FROZEN_DAY", "FROZEN_NOW", "cli_env", "snuper_command"]


def snuper_command() -> list[str]:
    """The installed `snuper` script beside this interpreter, else `python -m snuper`."""
    script = Path(sys.executable).parent / "snuper"
    return [str(script)] if script.exists() else [sys.executable, "-m", "snuper"]
