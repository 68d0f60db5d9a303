"""Playwright launch and the helper that reads the JSON a page loads (request interception)."""

from __future__ import annotations

import logging
import shutil
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from playwright.async_api import BrowserContext, Error, Response, async_playwright

from snuper.config import Settings

log = logging.getLogger("snuper.browser")

USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
# Without the background-networking flags Chromium floods a closed network with refused
# connections; --no-sandbox because containers and Lambda run as root or without namespaces.
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


class BrowserError(RuntimeError):
    """The browser could not start or a page did not load what we needed."""


@dataclass(frozen=True, slots=True)
class PageJson:
    url: str
    status: int
    headers: dict[str, str]
    payload: Any


@asynccontextmanager
async def open_browser(settings: Settings) -> AsyncIterator[BrowserContext]:
    """Chromium from SNUPER_BROWSER_PATH; else Playwright's own, else a Chromium on the PATH."""
    async with async_playwright() as playwright:
        executable = settings.browser_path
        try:
            browser = await playwright.chromium.launch(
                executable_path=executable, headless=True, args=LAUNCH_ARGS
            )
        except Error as exc:
            fallback = shutil.which("chromium") or shutil.which("chromium-browser")
            if executable is not None or fallback is None:
                raise BrowserError(
                    f"cannot start Chromium ({executable or 'bundled'}): {str(exc).splitlines()[0]}"
                ) from exc
            log.info("Playwright's browser is missing; using %s", fallback)
            browser = await playwright.chromium.launch(
                executable_path=fallback, headless=True, args=LAUNCH_ARGS
            )
        context = await browser.new_context(user_agent=USER_AGENT)
        try:
            yield context
        finally:
            await context.close()
            await browser.close()


async def json_loaded_by_page(
    context: BrowserContext, page_url: str, wanted: Callable[[str], bool], timeout_s: float = 30.0
) -> PageJson:
    """Open page_url and return the first JSON response whose URL satisfies `wanted`."""
    page = await context.new_page()
    try:
        async with page.expect_response(
            lambda r: wanted(r.url), timeout=timeout_s * 1000
        ) as caught:
            await page.goto(page_url, wait_until="commit", timeout=timeout_s * 1000)
        response: Response = await caught.value
        payload: Any = None
        if response.ok:
            try:
                payload = await response.json()
            except ValueError as exc:  # e.g. a bot-check page answered with 200
                raise BrowserError(f"{response.url}: not JSON ({exc})") from exc
        return PageJson(response.url, response.status, await response.all_headers(), payload)
    except Error as exc:
        raise BrowserError(f"{page_url}: {str(exc).splitlines()[0]}") from exc
    finally:
        await page.close()
