"""Pacing and the concurrency cap of polled books (snuper.poll), on an in-memory transport."""

from __future__ import annotations

import asyncio

import httpx

from snuper.feed import FeedUnavailable, http_get_all
from snuper.poll import PacedTransport, Politeness, poll_interval


def test_poll_interval_is_never_below_half_a_second() -> None:
    assert poll_interval(0.05, 1.0) == 0.5 and poll_interval(1.0, 5.0) == 1.0
    assert poll_interval(3, 1.0) == 3


def test_without_i_each_book_polls_at_its_own_cadence() -> None:
    assert poll_interval(None, 5.0) == 5.0 and poll_interval(None, 1.0) == 1.0


def test_politeness_from_the_environment() -> None:
    env = {"SNUPER_POLL_GAP": "0.1", "SNUPER_POLL_CONCURRENCY": "2"}
    assert Politeness.from_env(0.75, env) == Politeness(0.1, 2)
    assert Politeness.from_env(0.75, {"SNUPER_POLL_GAP": "soon"}) == Politeness(0.75, 4)


async def test_requests_to_one_host_are_spaced_and_capped() -> None:
    loop = asyncio.get_running_loop()
    starts: dict[str, list[float]] = {}
    in_flight = peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        starts.setdefault(request.url.host, []).append(loop.time())
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.05)
        in_flight -= 1
        status = 503 if request.url.path == "/busy" else 200
        return httpx.Response(status, headers={"Retry-After": "7"}, content=b"{}")

    transport = PacedTransport(Politeness(0.1, 2), httpx.MockTransport(handler))
    async with httpx.AsyncClient(transport=transport) as client:
        urls = [f"http://{host}/x" for host in ("a", "b", "c") for _ in range(3)]
        await asyncio.gather(*(client.get(url) for url in urls))
        try:
            await http_get_all(client, ["http://a/busy"])
        except FeedUnavailable as exc:
            assert exc.retry_after == 7.0
        else:
            raise AssertionError("a 503 must be FeedUnavailable")
    for times in starts.values():
        gaps = [b - a for a, b in zip(sorted(times), sorted(times)[1:], strict=False)]
        assert all(gap >= 0.095 for gap in gaps), gaps
    assert peak <= 2
