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
        joined: asyncio.Future[None] = self._loop.create_future()
        # Joining blocks, so it happens in a thread of its own that reports back to the loop.
        thread = threading.Thread(
            target=self._join, args=(executor, joined), name="treadle-executor-shutdown"
        )
        thread.start()
        try:
            async with asyncio.timeout(timeout):
                await joined
        except TimeoutError:
            warnings.warn(
                f"The executor did not finishing joining its threads within {timeout} seconds.",
                RuntimeWarning,
                stacklevel=2,
            )
            executor.shutdown(wait=False)
        else:
            thread.join()

    def _join(
        self, executor: concurrent.futures.ThreadPoolExecutor, joined: asyncio.Future[None]
    ) -> None:
        try:
            executor.shutdown(wait=True)
        except Exception as exc:
            self._report(joined, exc)
        else:
            self._report(joined, None)

    def _report(self, joined: asyncio.Future[None], exc: Exception | None) -> None:
        if self._loop.is_closed():
            return  # nobody is waiting any more: close() already gave up on the executor
        self._loop.call_soon_threadsafe(_settle, joined, exc)

    def close(self) -> None:
        self._shutdown_called = True
        executor, self._default = self._default, None
        if executor is not None:
            executor.shutdown(wait=False)


def _settle(joined: asyncio.Future[None], exc: Exception | None) -> None:
    if joined.cancelled():
        return
    if exc is None:
        joined.set_result(None)
    else:
        joined.set_exception(exc)
