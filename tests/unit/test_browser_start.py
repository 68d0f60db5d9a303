"""A Chromium that dies while starting (Lambda's --single-process does, now and then) gets one
more try; any other launch error is final at once."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Error

from snuper import browser
from snuper.config import Settings


def starts(failures: list[str]) -> tuple[list[int], Any]:
    calls: list[int] = []

    async def fake_start(*_: Any) -> str:
        calls.append(1)
        if failures:
            raise Error(failures.pop(0))
        return "context"

    return calls, fake_start


async def test_a_browser_closed_while_starting_is_started_once_more(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls, fake = starts(["BrowserType.launch: Target page, context or browser has been closed"])
    monkeypatch.setattr(browser, "_start", fake)
    started: object = await browser._start_retried(None, Settings(), "/usr/bin/chromium", None)  # type: ignore[arg-type]
    assert started == "context"
    assert len(calls) == 2


async def test_other_launch_errors_are_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    calls, fake = starts(["Executable doesn't exist at /nowhere"])
    monkeypatch.setattr(browser, "_start", fake)
    with pytest.raises(Error, match="Executable doesn't exist"):
        await browser._start_retried(None, Settings(), "/nowhere", None)  # type: ignore[arg-type]
    assert len(calls) == 1
