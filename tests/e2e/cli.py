"""Run the real `snuper` command in a subprocess, as a user would."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from snuper.slate import iso_utc, slate_day, today_slate


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str


# Every run sees this wall clock (then running on), and the simulators serve its slate day: no
# test depends on the day or hour it runs. 12:00 in New York on the day daylight saving starts.
FROZEN_NOW = datetime(2026, 3, 8, 16, 0, tzinfo=UTC)
FROZEN_DAY = slate_day(FROZEN_NOW)
FROZEN_SLATE = today_slate(FROZEN_NOW)


def cli_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["SNUPER_NOW"] = iso_utc(FROZEN_NOW)
    if not env.get("SNUPER_BROWSER_PATH") and shutil.which("chromium"):
        env["SNUPER_BROWSER_PATH"] = shutil.which("chromium") or ""
    env.update(extra or {})
    return env


async def snuper(*args: str, env: Mapping[str, str] | None = None, timeout: float = 120) -> Run:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "snuper", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=cli_env(env),
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    return Run(process.returncode, out.decode(), err.decode())
