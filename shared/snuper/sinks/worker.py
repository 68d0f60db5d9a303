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
_Job = tuple[Callable[[], Any], "asyncio.Future[Any]", asyncio.AbstractEventLoop]


class SinkWorker:
    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=f"sink-{sink.name}", daemon=True)
        self._thread.start()

    @property
    def name(self) -> str:
        return self.sink.name

    async def call(self, action: Callable[[], T], timeout: float | None = None) -> T:
        """Run `action` on the sink's thread; TimeoutError after `timeout` seconds (the call is
        abandoned: skipped if it has not started, left to finish on its own if it has)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((action, future, loop))
        return await asyncio.wait_for(future, timeout)

    def stop(self) -> None:
        """Let the thread end once the calls before this one are done."""
        self._jobs.put(None)

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            action, future, loop = job
            if future.cancelled():  # abandoned while it waited its turn
                continue
            result: Any = None
            error: BaseException | None = None
            try:
                result = action()
            except BaseException as exc:  # handed to the caller, who decides
                error = exc
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits any more
                loop.call_soon_threadsafe(_settle, future, result, error)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
