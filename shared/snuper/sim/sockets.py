"""A simulator's open websockets: each connection's frames sent in order from its queue, update
frames counted over the whole simulator, the websocket faults injected once each, and every socket
closed when the simulator stops. What a book's socket says is the book's simulator's business."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from aiohttp import WSCloseCode, web

from snuper.sim.options import Faults

log = logging.getLogger("snuper.sim")

F = TypeVar("F", bytes, str)


@dataclass(slots=True, eq=False)
class SimSocket(Generic[F]):
    """One client connection: frames queued as (frame, is_update); None ends the writer."""

    ws: web.WebSocketResponse
    queue: asyncio.Queue[tuple[F, bool] | None] = field(default_factory=asyncio.Queue)
    updates_sent: int = 0


class SocketHub(Generic[F]):
    """drop_after closes the first connection that has sent that many update frames (once);
    malformed_at sends `garble(frame)` just before the Nth update frame of the whole simulator
    (once). The test hooks malformed_next and drop_next set either at a chosen moment.
    `dropping` runs as a connection is dropped, before its close handshake: the simulator
    detaches its subscriptions there, so no step is sent into a closing socket and lost."""

    def __init__(
        self,
        faults: Faults,
        garble: Callable[[F], F],
        dropping: Callable[[SimSocket[F]], None] | None = None,
    ) -> None:
        self.garble: Callable[[F], F] = garble
        self.dropping: Callable[[SimSocket[F]], None] | None = dropping
        self.frames_sent = 0  # update frames, over all connections
        self.connections = 0  # connections accepted
        self._malformed_at = faults.malformed_at
        self._malformed_sent = False
        self._drop_after = faults.drop_after
        self._dropped = False
        self._drop_at: int | None = None
        self._open: set[SimSocket[F]] = set()

    def malformed_next(self) -> None:
        """The next update frame is preceded, once, by a garbled one."""
        self._malformed_at = self.frames_sent + 1
        self._malformed_sent = False

    def drop_next(self, after_frames: int = 1) -> None:
        """The connection that sends the `after_frames`-th update frame from now is closed."""
        self._drop_at = self.frames_sent + after_frames

    def opened(self, socket: SimSocket[F]) -> asyncio.Task[None]:
        """Count and keep the connection; its writer task (await it after `closed`)."""
        self.connections += 1
        self._open.add(socket)
        return asyncio.create_task(self._write(socket))

    def closed(self, socket: SimSocket[F]) -> None:
        self._open.discard(socket)
        socket.queue.put_nowait(None)

    async def close_all(self, _app: web.Application) -> None:
        for socket in list(self._open):
            with contextlib.suppress(ConnectionError, RuntimeError):
                await socket.ws.close(code=WSCloseCode.GOING_AWAY, message=b"simulator stopping")

    async def _send(self, socket: SimSocket[F], frame: F) -> None:
        if isinstance(frame, bytes):
            await socket.ws.send_bytes(frame)
        else:
            await socket.ws.send_str(frame)

    async def _write(self, socket: SimSocket[F]) -> None:
        while (item := await socket.queue.get()) is not None:
            frame, is_update = item
            if socket.ws.closed:
                return
            try:
                if is_update:
                    number = self.frames_sent + 1
                    if self._malformed_at == number and not self._malformed_sent:
                        self._malformed_sent = True
                        await self._send(socket, self.garble(frame))
                    self.frames_sent = number
                    socket.updates_sent += 1
                await self._send(socket, frame)
                if is_update and self._should_drop(socket):
                    log.info("fault: dropping a connection after %d update frames",
                             socket.updates_sent)  # fmt: skip
                    if self.dropping is not None:
                        self.dropping(socket)
                    await socket.ws.close(
                        code=WSCloseCode.INTERNAL_ERROR, message=b"simulated drop"
                    )
                    return
            except (ConnectionError, RuntimeError):
                return  # the peer went away; the handler cleans up

    def _should_drop(self, socket: SimSocket[F]) -> bool:
        if self._drop_at is not None and self.frames_sent >= self._drop_at:
            self._drop_at = None
            return True
        if (
            self._drop_after is not None
            and not self._dropped
            and socket.updates_sent >= self._drop_after
        ):
            self._dropped = True
            return True
        return False
