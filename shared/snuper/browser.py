"""Playwright launch and the helper that reads the JSON a page loads (request interception)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from playwright.async_api import (
    BrowserContext,
    Error,
    Playwright,
    Request,
    Response,
    async_playwright,
)

from snuper.config import Settings

# Defined without Playwright: plain-HTTP scrapes use them too.
from snuper.page_data import BrowserError, NotJson, PageJson

log = logging.getLogger("snuper.browser")

HOW_TO_GET_CHROMIUM = (
    "install one (Debian/Ubuntu: apt-get install chromium; macOS: brew install --cask chromium) "
    "or point SNUPER_BROWSER_PATH at a Chrome/Chromium executable; with internet, "
    "`playwright install chromium` also works"
)
PROGRESS_EVERY_S = 10.0  # a slow page logs that we are still waiting


@asynccontextmanager
async def open_browser(
    settings: Settings, browser: BrowserContext | None = None
) -> AsyncIterator[BrowserContext]:
    """`browser` when the caller has one open (a warm Lambda reuses it; it stays open).
    Otherwise Chromium from SNUPER_BROWSER_PATH, else Playwright's own, else one on the PATH."""
    if browser is not None:
        yield browser
        return
    with contextlib.ExitStack() as folders:
        profile = None
        if settings.browser_temp_profile:  # removed with the browser: /tmp of a warm Lambda
            profile = folders.enter_context(
                tempfile.TemporaryDirectory(prefix="snuper-chromium-", ignore_cleanup_errors=True)
            )
        async with async_playwright() as playwright:
            context = await _launch(playwright, settings, profile)
            try:
                yield context
            finally:
                with contextlib.suppress(Error):  # a browser that crashed is gone already
                    await context.close()
                if context.browser is not None:
                    with contextlib.suppress(Error):
                        await context.browser.close()


async def _launch(
    playwright: Playwright, settings: Settings, profile: str | None
) -> BrowserContext:
    executable = settings.browser_path
    try:
        return await _start_retried(playwright, settings, executable, profile)
    except Error as exc:
        fallback = shutil.which("chromium") or shutil.which("chromium-browser")
        if executable is not None or fallback is None:
            raise _cannot_start(executable or "Playwright's own", exc) from exc
    log.info("Playwright's browser is missing; using %s", fallback)
    try:
        return await _start_retried(playwright, settings, fallback, profile)
    except Error as exc:
        raise _cannot_start(fallback, exc) from exc


def _cannot_start(which: str, exc: Error) -> BrowserError:
    first = str(exc).strip().splitlines()[0]
    return BrowserError(f"cannot start Chromium ({which}): {first}; {HOW_TO_GET_CHROMIUM}")


async def _start_retried(
    playwright: Playwright, settings: Settings, executable: str | None, profile: str | None
) -> BrowserContext:
    """Chromium that dies while starting (seen with Lambda's --single-process) gets one more
    try; any other launch error is final."""
    try:
        return await _start(playwright, settings, executable, profile)
    except Error as exc:
        if "has been closed" not in str(exc):
            raise
        first = str(exc).strip().splitlines()[0]
        log.warning("Chromium closed while starting (%s); starting it once more", first)
    return await _start(playwright, settings, executable, profile)


async def _start(
    playwright: Playwright, settings: Settings, executable: str | None, profile: str | None
) -> BrowserContext:
    args = list(settings.browser_args)
    if profile is not None:
        return await playwright.chromium.launch_persistent_context(
            profile, executable_path=executable, headless=True, args=args,
            user_agent=settings.user_agent,
        )  # fmt: skip
    launched = await playwright.chromium.launch(
        executable_path=executable, headless=True, args=args
    )
    try:
        return await launched.new_context(user_agent=settings.user_agent)
    except Error:
        await launched.close()
        raise


async def json_loaded_by_page(
    context: BrowserContext, page_url: str, wanted: Callable[[str], bool], timeout_s: float = 30.0
) -> PageJson:
    """Open page_url and return the first JSON response whose URL satisfies `wanted`."""
    page = await context.new_page()
    if log.isEnabledFor(logging.DEBUG):
        page.on("request", _log_request)
    progress = asyncio.create_task(_log_progress(page_url))
    try:
        async with page.expect_response(
            lambda r: wanted(r.url), timeout=timeout_s * 1000
        ) as caught:
            await page.goto(page_url, wait_until="commit", timeout=timeout_s * 1000)
        response: Response = await caught.value
        log.debug("%s answered HTTP %d", response.url, response.status)
        payload: Any = None
        if response.ok:
            try:
                payload = await response.json()
            except ValueError as exc:  # e.g. a bot-check page answered with 200
                raise NotJson(f"{response.url}: not JSON ({exc})") from exc
        return PageJson(response.url, response.status, await response.all_headers(), payload)
    except Error as exc:
        raise BrowserError(f"{page_url}: {str(exc).strip().splitlines()[0]}") from exc
    finally:
        progress.cancel()
        await page.close()


def _log_request(request: Request) -> None:
    log.debug("request %s %s", request.method, request.url)


async def _log_progress(page_url: str) -> None:
    waited = 0.0
    while True:
        await asyncio.sleep(PROGRESS_EVERY_S)
        waited += PROGRESS_EVERY_S
        log.info("still waiting for %s (%.0fs)", page_url, waited)
