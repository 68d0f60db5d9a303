"""Run the real `snuper` command in a subprocess, as a user would."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str


def cli_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
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
