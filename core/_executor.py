"""run_in_executor and the loop's default thread pool.

The default executor is created on first use and shut down by ``shutdown_default_executor`` (joined
in a helper thread so the loop keeps running) or, without waiting, by ``close``. After shutdown was
requested, using the default executor raises asyncio's RuntimeError.

The hand-off to a thread pool: asyncio submits the call, gets a ``concurrent.futures.Future``,
and chains a loop future to it (``wrap_future``): a lock and a done-callback on each side, a
``call_soon`` to check for cancellation, and a copy of the outcome. For thread pools we skip the
chain: the worker runs a ``ThreadCall`` that settles the loop future itself through
``call_soon_threadsafe``. What asyncio's chain does is kept: a loop future cancelled before the
call started stops it from running, a result that arrives after cancellation is dropped, nothing is
delivered to a closed loop, and a work item the pool cancels (``shutdown(cancel_futures=True)``)
cancels the loop future. Other executors (process pools) still go through ``wrap_future``: they
pickle what they run.
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
        if not isinstance(executor, concurrent.futures.ThreadPoolExecutor):
            return asyncio.wrap_future(executor.submit(func, *args), loop=self._loop)
        future: asyncio.Future[Any] = self._loop.create_future()
        call = ThreadCall(self._loop, future, func, args)
        executor.submit(call).add_done_callback(call.work_done)
        return future

    def accepts_default_work(self) -> bool:
        """False once shutdown was requested: run_in_executor(None, ...) would then raise."""
        return not self._shutdown_called

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


class ThreadCall:
    """``func(*args)`` run by a pool thread, its outcome delivered to a loop future."""

    __slots__ = ("_args", "_func", "_future", "_loop")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        future: asyncio.Future[Any],
        func: Callable[..., Any],
        args: tuple[Any, ...],
    ) -> None:
        self._loop = loop
        self._future = future
        self._func = func
        self._args = args

    def __call__(self) -> None:
        # In the worker thread. Reading cancelled() here is one attribute read under the GIL; a
        # cancellation that lands just after it is caught by _deliver's check on the loop.
        if self._future.cancelled():
            return  # asyncio cancels the pending work item: the call never runs
        try:
            result = self._func(*self._args)
        except BaseException as exc:  # the pool thread would store it on its own future
            self._deliver(_set_exception, exc)
        else:
            self._deliver(_set_result, result)

    def work_done(self, work: concurrent.futures.Future[None]) -> None:
        """The pool's future is done: only its cancellation concerns us (see the module doc)."""
        if work.cancelled():
            self._deliver(_cancel, None)

    def _deliver(self, settle: Callable[[asyncio.Future[Any], Any], None], value: Any) -> None:
        if self._loop.is_closed():
            return  # asyncio's wrap_future delivers nothing to a closed loop either
        try:
            self._loop.call_soon_threadsafe(settle, self._future, value)
        except RuntimeError:
            pass  # the loop closed between the check and the call: as above


def _set_result(future: asyncio.Future[Any], result: Any) -> None:
    if not future.cancelled():
        future.set_result(result)


def _set_exception(future: asyncio.Future[Any], exc: Any) -> None:
    if not future.cancelled():
        future.set_exception(_as_asyncio_error(exc))


# asyncio's wrap_future hands the awaiting task asyncio's own CancelledError and InvalidStateError
# where the function raised concurrent.futures' (distinct classes since 3.8), keeping the args and
# traceback; settling the loop future directly must do the same.
_CONCURRENT_TO_ASYNCIO: dict[type[BaseException], type[BaseException]] = {
    concurrent.futures.CancelledError: asyncio.CancelledError,
    concurrent.futures.InvalidStateError: asyncio.InvalidStateError,
}


def _as_asyncio_error(exc: BaseException) -> BaseException:
    replacement = _CONCURRENT_TO_ASYNCIO.get(type(exc))
    if replacement is None:
        return exc
    return replacement(*exc.args).with_traceback(exc.__traceback__)


def _cancel(future: asyncio.Future[Any], _: None) -> None:
    future.cancel()


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
