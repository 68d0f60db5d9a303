"""A sink's blocking calls, one at a time on a daemon thread of their own.

The event loop never blocks on storage, and a sink that hangs can be abandoned at the shutdown
deadline: a daemon thread does not keep the process alive, where asyncio's default executor would
(it is joined at exit).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from snuper.sinks.base import Sink

T = TypeVar("T")
# (index, action, future, loop, makes_durable)
_Job = tuple[int, Callable[[], Any], "asyncio.Future[Any]", asyncio.AbstractEventLoop, bool]


class SinkWorker:
    """Calls run in the order submitted, so a flush covers every write submitted before it:
    `durable_through` is the index of the last flush that succeeded, and a write whose index is
    below it is durable, whichever league's flush made it so."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.durable_through = 0
        self._submitted = 0
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=f"sink-{sink.name}", daemon=True)
        self._thread.start()

    @property
    def name(self) -> str:
        return self.sink.name

    async def call(self, action: Callable[[], T], timeout: float | None = None) -> T:
        """Run `action` on the sink's thread; TimeoutError after `timeout` seconds (the call is
        abandoned: skipped if it has not started, left to finish on its own if it has)."""
        _, result = await self.call_indexed(action, timeout)
        return result

    async def call_indexed(
        self, action: Callable[[], T], timeout: float | None = None, *, makes_durable: bool = False
    ) -> tuple[int, T]:
        """`call`, also returning the call's index; a successful `makes_durable` call (a flush)
        moves `durable_through` up to its index."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._submitted += 1
        index = self._submitted
        self._jobs.put((index, action, future, loop, makes_durable))
        try:
            return index, await asyncio.wait_for(future, timeout)
        except Exception as exc:
            exc.call_index = index  # type: ignore[attr-defined]  # what a later flush covers
            raise

    def stop(self) -> None:
        """Let the thread end once the calls before this one are done."""
        self._jobs.put(None)

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            index, action, future, loop, makes_durable = job
            if future.cancelled():  # abandoned while it waited its turn
                continue
            result: Any = None
            error: BaseException | None = None
            try:
                result = action()
            except BaseException as exc:  # handed to the caller, who decides
                error = exc
            else:
                if makes_durable:
                    self.durable_through = index  # an int store: atomic under the GIL
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits any more
                loop.call_soon_threadsafe(_settle, future, result, error)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
