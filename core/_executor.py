"""run_in_executor and the loop's default thread pool.

The default executor is created on first use and shut down by ``shutdown_default_executor`` (joined
in a helper thread so the loop keeps running) or, without waiting, by ``close``. After shutdown was
requested, using the default executor raises asyncio's RuntimeError.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import warnings
from collections.abc import Callable
from typing import Any

from ._errors import check_callback


class ExecutorManager:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._default: concurrent.futures.ThreadPoolExecutor | None = None
        self._shutdown_called = False

    def run_in_executor(
        self, executor: concurrent.futures.Executor | None, func: Callable[..., Any], *args: Any
    ) -> asyncio.Future[Any]:
        if self._loop.get_debug():
            check_callback(func, "run_in_executor")
        if executor is None:
            if self._shutdown_called:
                raise RuntimeError("Executor shutdown has been called")
            executor = self._default
            if executor is None:
                executor = self._default = concurrent.futures.ThreadPoolExecutor(
                    thread_name_prefix="asyncio"
                )
        return asyncio.wrap_future(executor.submit(func, *args), loop=self._loop)

    def set_default_executor(self, executor: Any) -> None:
        if not isinstance(executor, concurrent.futures.ThreadPoolExecutor):
            raise TypeError("executor must be ThreadPoolExecutor instance")
        self._default = executor

    async def shutdown_default_executor(self, timeout: float | None = None) -> None:
        self._shutdown_called = True
        executor = self._default
        if executor is None:
            return
        joined: asyncio.Future[bool] = self._loop.create_future()  # True: joined in time
        # Joining blocks, so it happens in a thread of its own that reports back to the loop.
        thread = threading.Thread(
            target=self._join, args=(executor, joined), name="treadle-executor-shutdown"
        )
        thread.start()
        # The timeout is real time, measured by a thread: the loop's clock may be virtual, and a
        # MockClock would jump past any timeout while the loop idles waiting for real threads
        # (issue 13, defect 6). asyncio uses loop time, which is real time on its loop.
        watchdog = None
        if timeout is not None:
            watchdog = threading.Thread(
                target=self._watch, args=(thread, timeout, joined), name="treadle-executor-watch"
            )
            watchdog.start()
        try:
            in_time = await joined
        finally:
            if watchdog is not None:
                watchdog.join()  # returns at once: the join ended or the watchdog gave up
        if in_time:
            thread.join()
            return
        warnings.warn(
            f"The executor did not finishing joining its threads within {timeout} seconds.",
            RuntimeWarning,
            stacklevel=2,
        )
        executor.shutdown(wait=False)

    def _watch(
        self, thread: threading.Thread, timeout: float, joined: asyncio.Future[bool]
    ) -> None:
        thread.join(timeout)
        if thread.is_alive() and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(_give_up, joined)

    def _join(
        self, executor: concurrent.futures.ThreadPoolExecutor, joined: asyncio.Future[bool]
    ) -> None:
        try:
            executor.shutdown(wait=True)
        except Exception as exc:
            self._report(joined, exc)
        else:
            self._report(joined, None)

    def _report(self, joined: asyncio.Future[bool], exc: Exception | None) -> None:
        if self._loop.is_closed():
            return  # nobody is waiting any more: close() already gave up on the executor
        self._loop.call_soon_threadsafe(_settle, joined, exc)

    def close(self) -> None:
        self._shutdown_called = True
        executor, self._default = self._default, None
        if executor is not None:
            executor.shutdown(wait=False)


def _settle(joined: asyncio.Future[bool], exc: Exception | None) -> None:
    if joined.done():
        return  # cancelled, or the watchdog gave up first
    if exc is None:
        joined.set_result(True)
    else:
        joined.set_exception(exc)


def _give_up(joined: asyncio.Future[bool]) -> None:
    if not joined.done():
        joined.set_result(False)
