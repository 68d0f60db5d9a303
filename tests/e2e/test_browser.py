"""browser.py with real Chromium: launch flags and user agent from settings, the Lambda profile,
and a browser the caller opened (a warm Lambda) reused and left open."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest
from playwright.async_api import async_playwright

from snuper import app
from snuper.browser import json_loaded_by_page, open_browser
from snuper.config import BROWSER_ARGS, LAMBDA_BROWSER_ARGS, Settings
from snuper.providers.draftkings import PROVIDER
from snuper.sim.options import SimOptions
from snuper.sinks.fs import FsSink
from tests.e2e.cli import FROZEN_NOW
from tests.e2e.conftest import SimFactory

# Debian's Chromium (.ci/run installs it) or the one `make test` found.
CHROMIUM = os.environ.get("SNUPER_BROWSER_PATH") or shutil.which("chromium")


async def test_the_lambda_profile_launches_with_settings_flags_and_user_agent(
    dk_sim: SimFactory,
) -> None:
    settings = Settings(
        browser_path=CHROMIUM,
        browser_args=BROWSER_ARGS + LAMBDA_BROWSER_ARGS,
        browser_temp_profile=True,
        user_agent="snuper-test-agent/1.0",
    )
    profiles = set(Path(tempfile.gettempdir()).glob("snuper-chromium-*"))
    async with dk_sim(SimOptions(seed=3)) as (running, _), open_browser(settings) as browser:
        assert len(set(Path(tempfile.gettempdir()).glob("snuper-chromium-*")) - profiles) == 1
        base = running.exports["SNUPER_DRAFTKINGS_SITE"]
        loaded = await json_loaded_by_page(
            browser, f"{base}/leagues/basketball/nba", lambda url: "/api/sportscontent/" in url
        )
        page = await browser.new_page()
        agent = await page.evaluate("navigator.userAgent")
    assert loaded.status == 200 and loaded.payload["events"]
    assert agent == "snuper-test-agent/1.0"
    # The temporary profile went with the browser (a warm Lambda's /tmp does not fill up).
    assert set(Path(tempfile.gettempdir()).glob("snuper-chromium-*")) == profiles


async def test_a_browser_the_caller_opened_is_reused_and_left_open(
    tmp_path: Path, dk_sim: SimFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = replace(Settings(), browser_path=CHROMIUM)
    async with dk_sim(SimOptions(seed=3)) as (running, _), async_playwright() as playwright:
        for name, value in running.exports.items():
            monkeypatch.setenv(name, value)
        chromium = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=list(BROWSER_ARGS)
        )
        context = await chromium.new_context()
        sink = FsSink(tmp_path)
        for league in ("nba", "mlb"):  # two invocations of a warm function
            [outcome] = await app.scrape([PROVIDER], [league], sink, settings, browser=context,
                                         now=lambda: FROZEN_NOW)  # fmt: skip
            assert outcome.status == app.Status.WRITTEN, outcome.reason
        assert chromium.is_connected() and len(chromium.contexts) == 1
        await context.close()
        await chromium.close()
