"""The transports against real local servers (aiohttp, websockets, plain asyncio on 127.0.0.1,
port 0): whatever a client library raises leaves as FeedUnavailable with the server's
Retry-After, a plain bug surfaces, stop interrupts what hangs, and the engine backs off and
reconnects on top of that. No client library is mocked; nothing sleeps and then asserts.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import itertools
import logging
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import aiohttp
import httpx
import orjson
import pytest
import websockets
from aiohttp import web
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

from snuper.config import MonitorSettings
from snuper.feed import (
    CLOSE_TIMEOUT_S,
    Feed,
    FeedBatch,
    FeedSocket,
    FeedUnavailable,
    Message,
    PollTransport,
    Transport,
    WebSocketTransport,
    http_get_all,
    retry_after_s,
    unavailable,
)
from snuper.runner import MonitorEngine, MonitorResult
from snuper.sinks.fs import FsSink
from tests.factories import event, snapshot
from tests.unit.test_runner import script_parser

NOW = datetime(2026, 12, 2, 12, 30, tzinfo=UTC)
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455's constant for the accept key
# Tiny backoff: a reconnect waits milliseconds unless the server asked for more.
QUICK = MonitorSettings(interval=0.05, heartbeat_s=60, receive_timeout=0.1,
                        backoff_initial=0.01, backoff_max=0.02, max_runtime=5.0)  # fmt: skip
OVER = b'{"quotes": [], "over": ["101"]}'  # the watched event ended: the engine stops
LIMIT = 5.0  # seconds any wait in this file may take before the test fails


# ---- servers and helpers -------------------------------------------------------------------


def closed_port() -> int:
    """A port nobody listens on: bound once to get it, then closed."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@contextlib.asynccontextmanager
async def http_server(*routes: web.RouteDef) -> AsyncIterator[str]:
    """An aiohttp server on 127.0.0.1; yields its base URL."""
    app = web.Application()
    app.add_routes(routes)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def ws_server(
    handler: Callable[[ServerConnection], Awaitable[None]],
    process_request: Callable[[ServerConnection, Request], Response | None] | None = None,
) -> AsyncIterator[str]:
    """A websockets server on 127.0.0.1; yields its ws:// base URL."""
    async with serve(handler, "127.0.0.1", 0, process_request=process_request) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}"


def aiohttp_fetch(
    session: aiohttp.ClientSession, url: str
) -> Callable[[], Awaitable[list[Message]]]:
    async def fetch() -> list[Message]:
        async with session.get(url) as response:
            response.raise_for_status()
            return [await response.read()]

    return fetch


def httpx_fetch(client: httpx.AsyncClient, *urls: str) -> Callable[[], Awaitable[list[Message]]]:
    async def fetch() -> list[Message]:
        return await http_get_all(client, urls)

    return fetch


async def first_failure(transport: Transport) -> BaseException:
    """Read the transport until it raises; what it raised (bounded by LIMIT)."""

    async def read() -> None:
        async with contextlib.aclosing(transport.messages(asyncio.Event(), 0.05)) as messages:  # type: ignore[type-var]
            async for _ in messages:
                pass

    try:
        await asyncio.wait_for(read(), LIMIT)
    except Exception as exc:
        return exc
    raise AssertionError("the transport ended without an error")


async def run_engine(
    feed: Feed,
    tmp_path: Path,
    settings: MonitorSettings = QUICK,
    stop: asyncio.Event | None = None,
) -> MonitorResult:
    """An engine watching one live event (101) over `feed`, writing to tmp_path."""
    snap = snapshot(event("101", "500", start=NOW - timedelta(minutes=40)))
    sink = FsSink(tmp_path)
    engine = MonitorEngine(snap, feed, sink, settings, stop or asyncio.Event(), now=lambda: NOW)
    try:
        return await engine.run()
    finally:
        sink.close()


def nothing() -> list[Message]:
    return []


# ---- 1, 2: a client library's own error leaves as FeedUnavailable -------------------------


async def test_an_aiohttp_connect_error_is_feed_unavailable_and_the_engine_gives_up(
    tmp_path: Path,
) -> None:
    url = f"http://127.0.0.1:{closed_port()}/odds"
    async with aiohttp.ClientSession() as session:
        fetch = aiohttp_fetch(session, url)
        with pytest.raises(aiohttp.ClientConnectorError):  # the library's own error, raw
            await fetch()

        failure = await first_failure(PollTransport(fetch, interval=0.01))
        assert type(failure) is FeedUnavailable
        assert isinstance(failure.__cause__, aiohttp.ClientConnectorError)
        assert "ClientConnectorError" in failure.reason
        assert failure.retry_after is None

        settings = MonitorSettings(interval=0.05, receive_timeout=0.1, backoff_initial=0.01,
                                   backoff_max=0.02, max_failures=2)  # fmt: skip
        feed = Feed(PollTransport(fetch, interval=0.01), script_parser)
        result = await asyncio.wait_for(run_engine(feed, tmp_path, settings), LIMIT)
    assert (result.stopped, result.reconnects, result.ok) == ("gave up", 2, False)


async def test_an_httpx_connect_error_is_feed_unavailable() -> None:
    url = f"http://127.0.0.1:{closed_port()}/odds"
    async with httpx.AsyncClient(trust_env=False) as client:
        with pytest.raises(httpx.ConnectError):  # what http_get_all lets out on its own
            await http_get_all(client, [url])

        failure = await first_failure(PollTransport(httpx_fetch(client, url), interval=0.01))
    assert type(failure) is FeedUnavailable
    assert isinstance(failure.__cause__, httpx.ConnectError)
    assert "ConnectError" in str(failure)


# ---- 3, 4: the server's Retry-After is honoured --------------------------------------------


async def test_a_503_with_retry_after_holds_the_reconnect_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[float] = []  # when each GET arrived, server-side
    refusals = [0]  # how many of the next GETs get a 503

    async def odds(request: web.Request) -> web.Response:
        seen.append(time.monotonic())
        if refusals[0]:
            refusals[0] -= 1
            return web.Response(status=503, text="busy", headers={"Retry-After": "1"})
        return web.Response(body=OVER, content_type="application/json")

    async with (
        http_server(web.get("/odds", odds)) as base,
        httpx.AsyncClient(trust_env=False) as client,
    ):
        refusals[0] = 1
        with pytest.raises(FeedUnavailable) as refused:
            await http_get_all(client, [f"{base}/odds"])
        assert refused.value.retry_after == 1.0
        assert "answered HTTP 503" in refused.value.reason

        seen.clear()
        refusals[0] = 1
        feed = Feed(PollTransport(httpx_fetch(client, f"{base}/odds"), 0.05), script_parser)
        with caplog.at_level(logging.WARNING, "snuper.monitor"):
            result = await asyncio.wait_for(run_engine(feed, tmp_path), LIMIT)

    assert (result.stopped, result.reconnects, result.messages) == ("events over", 1, 1)
    lines = [r.getMessage() for r in caplog.records if r.name == "snuper.monitor"]
    assert any("answered HTTP 503" in line and "reconnect 1 in 1.0s" in line for line in lines)
    assert len(seen) == 2
    assert seen[1] - seen[0] >= 0.9  # the 0.01 s backoff alone would have come back at once


async def test_retry_after_as_an_http_date() -> None:
    assert retry_after_s("Wed, 02 Dec 2026 12:30:30 GMT", now=NOW) == 30.0
    assert retry_after_s("Wed, 02 Dec 2026 12:29:00 GMT", now=NOW) == 0.0  # already past
    assert retry_after_s("  120 ", now=NOW) == 120.0
    assert retry_after_s("soon", now=NOW) is None
    assert retry_after_s("86400") == 600.0  # a day-long answer would silence a whole slate
    assert retry_after_s("Thu, 03 Dec 2026 12:30:00 GMT", now=NOW) == 600.0
    assert retry_after_s(None) is None

    # And from a real answer: a date two minutes ahead of the wall clock.
    async def busy(request: web.Request) -> web.Response:
        when = datetime.now(UTC) + timedelta(seconds=120)
        return web.Response(status=429, headers={"Retry-After": format_datetime(when, True)})

    async with (
        http_server(web.get("/odds", busy)) as base,
        httpx.AsyncClient(trust_env=False) as client,
    ):
        with pytest.raises(FeedUnavailable) as refused:
            await http_get_all(client, [f"{base}/odds"])
    assert refused.value.retry_after is not None
    assert 115.0 <= refused.value.retry_after <= 120.0  # the date has whole seconds


async def test_a_websocket_handshake_refused_with_503_keeps_the_retry_after() -> None:
    def refuse(connection: ServerConnection, request: Request) -> Response:
        response = connection.respond(503, "busy\n")
        response.headers["Retry-After"] = "2"
        return response

    async def never(ws: ServerConnection) -> None:
        raise AssertionError("the handshake was refused")

    async with ws_server(never, process_request=refuse) as base:
        failure = await first_failure(WebSocketTransport(f"{base}/ws", nothing, open_timeout=5))
    assert type(failure) is FeedUnavailable
    assert failure.retry_after == 2.0
    assert "HTTP 503" in failure.reason
    assert isinstance(failure.__cause__, websockets.InvalidStatus)


# ---- 5, 6: what hangs is interrupted -------------------------------------------------------


async def test_stop_interrupts_a_fetch_that_hangs(tmp_path: Path) -> None:
    hit, release = asyncio.Event(), asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        hit.set()
        await release.wait()  # never answers while the test runs
        return web.Response(body=OVER)

    stop = asyncio.Event()
    try:
        async with http_server(web.get("/odds", hang)) as base, aiohttp.ClientSession() as session:
            transport = PollTransport(aiohttp_fetch(session, f"{base}/odds"), 0.05, timeout=30)
            settings = MonitorSettings(interval=0.05, heartbeat_s=60, receive_timeout=0.1)
            task = asyncio.create_task(
                run_engine(Feed(transport, script_parser), tmp_path, settings, stop)
            )
            await asyncio.wait_for(hit.wait(), LIMIT)
            stop.set()
            result = await asyncio.wait_for(task, 5)  # not the 30 s fetch timeout
            release.set()
    finally:
        release.set()
    assert result.stopped == "signal"
    assert result.messages == 0


async def test_a_fetch_slower_than_the_timeout_is_feed_unavailable() -> None:
    hit, release = asyncio.Event(), asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        hit.set()
        await release.wait()
        return web.Response(body=OVER)

    try:
        async with (
            http_server(web.get("/odds", hang)) as base,
            httpx.AsyncClient(trust_env=False) as client,
        ):
            transport = PollTransport(httpx_fetch(client, f"{base}/odds"), 0.05, timeout=0.2)
            failure = await first_failure(transport)
            release.set()
    finally:
        release.set()
    assert hit.is_set()
    assert type(failure) is FeedUnavailable
    assert "no answer within 0.2s" in failure.reason
    assert isinstance(failure.__cause__, TimeoutError)


# ---- 7: a round of several messages --------------------------------------------------------


async def test_every_message_of_a_poll_round_reaches_the_parser_in_order(tmp_path: Path) -> None:
    bodies = {
        "a": b'{"quotes": [["0ML500_1", -150, 1.6667]]}',
        "b": b'{"quotes": [["0ML500_3", 135, 2.35]]}',
        "c": OVER,
    }
    hits: list[str] = []

    async def game(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        hits.append(name)
        return web.Response(body=bodies[name], content_type="application/json")

    parsed: list[Message] = []

    def parse(message: Message) -> FeedBatch:
        parsed.append(message)
        return script_parser(message)

    async with (
        http_server(web.get("/game/{name}", game)) as base,
        httpx.AsyncClient(trust_env=False) as client,
    ):
        fetch = httpx_fetch(client, *(f"{base}/game/{name}" for name in bodies))
        feed = Feed(PollTransport(fetch, interval=0.05), parse)
        result = await asyncio.wait_for(run_engine(feed, tmp_path), LIMIT)
    assert hits == ["a", "b", "c"]  # one round
    assert parsed == list(bodies.values())
    assert (result.stopped, result.messages, result.updates) == ("events over", 3, 1)


# ---- 8, 9: the websocket's connection life -------------------------------------------------


async def test_each_websocket_connection_gets_a_fresh_url_and_prepares_before_subscribing(
    tmp_path: Path,
) -> None:
    paths: list[str] = []
    received: list[list[Message]] = []  # per connection, in arrival order

    async def feed_handler(ws: ServerConnection) -> None:
        assert ws.request is not None
        paths.append(ws.request.path)
        got: list[Message] = []
        received.append(got)
        got.append(await ws.recv())  # the preparation's hello
        await ws.send(b"welcome")
        got.append(await ws.recv())  # the subscription
        if len(paths) == 1:
            await ws.close()  # the first connection ends after the subscribe: reconnect
            return
        await ws.send(OVER)
        await ws.wait_closed()

    tokens = itertools.count(1)
    replies: list[Message] = []

    async def prepare(sock: FeedSocket) -> None:
        await sock.send(b"hello")
        replies.append(await sock.recv())

    async with ws_server(feed_handler) as base:
        transport = WebSocketTransport(
            lambda: f"{base}/feed?token={next(tokens)}", lambda: [b"sub"], prepare=prepare
        )
        feed = Feed(transport, script_parser)
        result = await asyncio.wait_for(run_engine(feed, tmp_path), LIMIT)
    assert paths == ["/feed?token=1", "/feed?token=2"]
    assert received == [[b"hello", b"sub"], [b"hello", b"sub"]]
    assert replies == [b"welcome", b"welcome"]
    assert (result.stopped, result.reconnects) == ("events over", 1)


async def test_a_normal_close_ends_the_messages_without_an_error() -> None:
    async def goodbye(ws: ServerConnection) -> None:
        await ws.send(b"last")
        await ws.close(1000)

    async with ws_server(goodbye) as base:
        transport = WebSocketTransport(f"{base}/ws", nothing, open_timeout=5)

        async def read_all() -> list[Message | None]:
            return [m async for m in transport.messages(asyncio.Event(), 0.05)]

        got = await asyncio.wait_for(read_all(), LIMIT)
    assert [m for m in got if m is not None] == [b"last"]


async def test_a_dropped_websocket_connection_is_feed_unavailable() -> None:
    async def drop(ws: ServerConnection) -> None:
        ws.transport.abort()  # TCP gone, no close frame

    async with ws_server(drop) as base:
        failure = await first_failure(WebSocketTransport(f"{base}/ws", nothing, open_timeout=5))
    assert type(failure) is FeedUnavailable
    assert isinstance(failure.__cause__, websockets.ConnectionClosedError)


async def test_a_socket_closed_before_the_handshake_is_feed_unavailable() -> None:
    async def slam(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.transport.abort()

    server = await asyncio.start_server(slam, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        transport = WebSocketTransport(f"ws://127.0.0.1:{port}/ws", nothing, open_timeout=5)
        failure = await first_failure(transport)
    assert type(failure) is FeedUnavailable
    assert failure.__cause__ is not None


# ---- 10: a bug is not a feed outage --------------------------------------------------------


async def test_a_plain_bug_in_a_fetch_surfaces(tmp_path: Path) -> None:
    assert unavailable(KeyError("odds")) is None

    async def answer(request: web.Request) -> web.Response:
        return web.json_response({"events": []})

    async with http_server(web.get("/odds", answer)) as base, aiohttp.ClientSession() as session:

        async def fetch() -> list[Message]:
            async with session.get(f"{base}/odds") as response:
                data = await response.json()
            return [orjson.dumps(data["odds"])]  # the book renamed the field: a bug

        failure = await first_failure(PollTransport(fetch, interval=0.01))
        assert type(failure) is KeyError
        assert failure.args == ("odds",)

        feed = Feed(PollTransport(fetch, interval=0.01), script_parser)
        with pytest.raises(KeyError, match="odds"):
            await asyncio.wait_for(run_engine(feed, tmp_path), LIMIT)


# ---- gaps found in review, fixed in feed.py -------------------------------------------------


async def test_stop_interrupts_a_websocket_prepare_that_hangs(tmp_path: Path) -> None:
    said_hello = asyncio.Event()

    async def mute(ws: ServerConnection) -> None:
        await ws.recv()
        said_hello.set()
        await ws.wait_closed()  # never answers the hello

    async def prepare(sock: FeedSocket) -> None:
        await sock.send(b"hello")
        await sock.recv()

    stop = asyncio.Event()
    settings = MonitorSettings(interval=0.05, heartbeat_s=60, receive_timeout=0.1)
    async with ws_server(mute) as base:
        transport = WebSocketTransport(f"{base}/ws", nothing, prepare=prepare, open_timeout=30)
        task = asyncio.create_task(
            run_engine(Feed(transport, script_parser), tmp_path, settings, stop)
        )
        await asyncio.wait_for(said_hello.wait(), LIMIT)
        stop.set()
        result = await asyncio.wait_for(task, 1)
    assert result.stopped == "signal"


async def test_a_poll_transport_wakes_the_engine_between_rounds() -> None:
    async def answer(request: web.Request) -> web.Response:
        return web.Response(body=OVER)

    async with http_server(web.get("/odds", answer)) as base, aiohttp.ClientSession() as session:
        transport = PollTransport(aiohttp_fetch(session, f"{base}/odds"), interval=30)
        messages = transport.messages(asyncio.Event(), 0.05)
        async with contextlib.aclosing(messages):  # type: ignore[type-var]
            assert await asyncio.wait_for(anext(messages), LIMIT) == OVER
            assert await asyncio.wait_for(anext(messages), LIMIT) is None  # end of round
            # The Transport contract: None at least every wake_every, so the engine can tick
            # (heartbeats, max_runtime) during a 30 s poll interval.
            assert await asyncio.wait_for(anext(messages), 0.5) is None


async def test_cancelling_the_reader_cancels_the_fetch_in_flight() -> None:
    hit, release, abandoned = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        hit.set()
        await release.wait()
        return web.Response(body=OVER)

    async with http_server(web.get("/odds", hang)) as base, aiohttp.ClientSession() as session:
        try:
            get = aiohttp_fetch(session, f"{base}/odds")

            async def fetch() -> list[Message]:
                try:
                    return await get()
                finally:
                    abandoned.set()

            async def read() -> None:
                async for _ in PollTransport(fetch, 0.05).messages(asyncio.Event(), 0.05):
                    pass

            reader = asyncio.create_task(read())
            await asyncio.wait_for(hit.wait(), LIMIT)
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(reader, LIMIT)
            await asyncio.wait_for(abandoned.wait(), 0.5)  # the fetch was cancelled with it
        finally:
            release.set()  # before the server's cleanup waits for the handler


async def test_raise_for_status_keeps_the_retry_after() -> None:
    async def busy(request: web.Request) -> web.Response:
        return web.Response(status=503, headers={"Retry-After": "7"})

    async with http_server(web.get("/odds", busy)) as base, aiohttp.ClientSession() as session:
        failure = await first_failure(PollTransport(aiohttp_fetch(session, f"{base}/odds"), 0.01))
    assert type(failure) is FeedUnavailable
    assert failure.retry_after == 7.0


def test_a_retry_after_of_unicode_digits_is_ignored_not_a_crash() -> None:
    # Headers are latin-1: one byte 0xB2 reads as "²", which str.isdigit() accepts.
    assert retry_after_s("\xb2") is None
    assert unavailable(httpx.HTTPStatusError(
        "503", request=httpx.Request("GET", "http://x"),
        response=httpx.Response(503, headers=[(b"Retry-After", b"\xb2")]),
    )) is not None  # fmt: skip


async def test_leaving_a_server_that_never_answers_the_close_is_quick(tmp_path: Path) -> None:
    # A raw server that upgrades the connection, then reads and ignores everything: without a
    # short close timeout, websockets would wait 10 s for its close reply before the engine's
    # shutdown deadline even began.
    upgraded = asyncio.Event()

    async def deaf(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        key = next(
            line.split(b":", 1)[1].strip()
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key:")
        )
        accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest())
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        upgraded.set()
        with contextlib.suppress(ConnectionError):
            while await reader.read(4096):
                pass
        writer.close()

    server = await asyncio.start_server(deaf, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    stop = asyncio.Event()
    settings = MonitorSettings(interval=0.05, heartbeat_s=60, receive_timeout=0.1,
                               shutdown_deadline=0.5)  # fmt: skip
    transport = WebSocketTransport(f"ws://127.0.0.1:{port}/ws", nothing, ping_interval=None)
    task = asyncio.create_task(run_engine(Feed(transport, script_parser), tmp_path, settings, stop))
    await asyncio.wait_for(upgraded.wait(), LIMIT)
    stop.set()
    began = time.monotonic()
    result = await asyncio.wait_for(task, 5)
    server.close()
    await server.wait_closed()
    assert result.stopped == "signal"
    assert time.monotonic() - began < CLOSE_TIMEOUT_S + settings.shutdown_deadline + 1.0
