"""What several figures share: the frozen clock the e2e tests use, and the CLI's environment."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from snuper.slate import iso_utc, slate_day

# As tests/e2e/cli.py: every run sees this wall clock, and the simulators serve its slate day.
FROZEN_NOW = datetime(2026, 3, 8, 16, 0, tzinfo=UTC)
FROZEN_DAY = slate_day(FROZEN_NOW)


def cli_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["SNUPER_NOW"] = iso_utc(FROZEN_NOW)
    if not env.get("SNUPER_BROWSER_PATH") and shutil.which("chromium"):
        env["SNUPER_BROWSER_PATH"] = shutil.which("chromium") or ""
    env.update(extra or {})
    return env


def snuper_command() -> list[str]:
    """The installed `snuper` script beside this interpreter, else `python -m snuper`."""
    script = Path(sys.executable).parent / "snuper"
    return [str(script)] if script.exists() else [sys.executable, "-m", "snuper"]
