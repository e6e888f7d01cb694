"""Threads: run blocking code in a worker thread, and call back into the loop from one.

Workers are the loop's default executor (``loop.run_in_executor(None, ...)``), so
``loop.shutdown_default_executor()`` and ``asyncio.run()`` clean them up as usual. How many run at
once is bounded by a :class:`CapacityLimiter` (40 tokens by default, Trio's number); the executor's
own pool size still applies underneath.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import threading
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, TypeVar

from ._cancel import CancelScope
from ._per_loop import PerLoop
from ._tokens import TokenLedger, wait_for_token
from ._wait import checkpoint_if_cancelled

_T = TypeVar("_T")
_DEFAULT_TOKENS = 40


_ALREADY_HELD = (
    "this borrower already holds one of this CapacityLimiter's tokens; a borrower can hold only one"
)


class WouldBlock(Exception):
    """Raised by ``*_nowait`` methods when the operation would have to wait."""


class CapacityLimiter:
    """At most ``total_tokens`` borrowers hold a token at once; the rest wait in FIFO order.

    ``async with limiter:`` borrows on behalf of the current task. ``total_tokens`` may be
    changed at any time; raising it wakes waiters.
    """

    def __init__(self, total_tokens: float) -> None:
        self._ledger = TokenLedger()
        self.total_tokens = total_tokens

    def __repr__(self) -> str:
        ledger = self._ledger
        return (
            f"<CapacityLimiter at {id(self):#x}, {len(ledger.borrowers)}/{ledger.total} "
            f"borrowed, {len(ledger.waiting)} waiting>"
        )

    @property
    def total_tokens(self) -> float:
        return self._ledger.total

    @total_tokens.setter
    def total_tokens(self, value: float) -> None:
        if not isinstance(value, int) and value != float("inf"):
            raise TypeError("total_tokens must be an int or math.inf")
        if value < 1:
            raise ValueError("total_tokens must be >= 1")
        self._ledger.total = value
        self._ledger.hand_over()

    @property
    def borrowed_tokens(self) -> int:
        return len(self._ledger.borrowers)

    @property
    def available_tokens(self) -> float:
        return self._ledger.total - len(self._ledger.borrowers)

    def acquire_nowait(self) -> None:
        self.acquire_on_behalf_of_nowait(_current_task())

    def acquire_on_behalf_of_nowait(self, borrower: object) -> None:
        if not self._ledger.take(borrower, _ALREADY_HELD):
            raise WouldBlock

    async def acquire(self) -> None:
        await self.acquire_on_behalf_of(_current_task())

    async def acquire_on_behalf_of(self, borrower: object) -> None:
        await checkpoint_if_cancelled()
        if not self._ledger.take(borrower, _ALREADY_HELD):
            await wait_for_token(self._ledger, borrower)

    def release(self) -> None:
        self.release_on_behalf_of(_current_task())

    def release_on_behalf_of(self, borrower: object) -> None:
        self._ledger.give_back(borrower)

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _current_task() -> asyncio.Task[Any]:
    task = asyncio.current_task()
    if task is None:
        raise RuntimeError("this must be called from inside an asyncio task")
    return task


_default_limiters: PerLoop[CapacityLimiter] = PerLoop(lambda: CapacityLimiter(_DEFAULT_TOKENS))


def current_default_thread_limiter() -> CapacityLimiter:
    """The limiter ``to_thread.run_sync`` uses when given none (one per loop, 40 tokens)."""
    return _default_limiters.get(asyncio.get_running_loop())


# -- to_thread ---------------------------------------------------------------------------------

_worker_local = threading.local()  # .loop: the loop a worker thread was started from


async def run_sync_in_thread(
    fn: Callable[..., _T],
    *args: Any,
    abandon_on_cancel: bool = False,
    limiter: CapacityLimiter | None = None,
) -> _T:
    """Run ``fn(*args)`` in a worker thread and return its result (or raise its exception).

    The thread sees the caller's contextvars. With ``abandon_on_cancel=False`` (default) the
    call cannot be cancelled: it waits for the thread, and cancellation shows at the next
    checkpoint. With True, cancellation returns at once and the thread runs on, its result
    discarded; its limiter token is held until it really ends.
    """
    loop = asyncio.get_running_loop()
    if limiter is None:
        limiter = current_default_thread_limiter()
    borrower = object()
    await limiter.acquire_on_behalf_of(borrower)
    context = contextvars.copy_context()
    try:
        done = loop.run_in_executor(None, _run_in_worker, loop, context, fn, args)
    except BaseException:
        limiter.release_on_behalf_of(borrower)
        raise
    done.add_done_callback(lambda _: limiter.release_on_behalf_of(borrower))
    waiter: asyncio.Future[_T] = loop.create_future()
    done.add_done_callback(lambda fut: _copy_outcome(fut, waiter))
    if abandon_on_cancel:
        return await waiter
    cancelled_from_outside = False
    with CancelScope(shield=True):
        while not waiter.done():
            try:
                await asyncio.shield(waiter)
            except asyncio.CancelledError:
                cancelled_from_outside = True  # task.cancel(): edge-triggered, re-raised below
    if cancelled_from_outside:
        raise asyncio.CancelledError
    return waiter.result()


def _run_in_worker(
    loop: asyncio.AbstractEventLoop,
    context: contextvars.Context,
    fn: Callable[..., _T],
    args: tuple[Any, ...],
) -> _T:
    _worker_local.loop = loop
    try:
        return context.run(fn, *args)
    finally:
        _worker_local.loop = None


def _copy_outcome(source: asyncio.Future[Any], target: asyncio.Future[Any]) -> None:
    if target.done():
        return
    if source.cancelled():
        target.cancel()
    elif (error := source.exception()) is not None:
        target.set_exception(error)
    else:
        target.set_result(source.result())


# -- from_thread -------------------------------------------------------------------------------


def _worker_loop() -> asyncio.AbstractEventLoop:
    loop: asyncio.AbstractEventLoop | None = getattr(_worker_local, "loop", None)
    if loop is None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise RuntimeError(
                "from_thread functions block; in the loop's thread, await the function instead"
            )
        raise RuntimeError(
            "this thread was not started by treadle.structured.to_thread.run_sync(), so there "
            "is no loop to call back into"
        )
    return loop


def run_in_loop(afn: Callable[..., Awaitable[_T]], *args: Any) -> _T:
    """From a worker thread: run ``await afn(*args)`` in the loop as a new task; block for it."""
    loop = _worker_loop()

    async def call() -> _T:
        return await afn(*args)

    return asyncio.run_coroutine_threadsafe(call(), loop).result()


def run_sync_in_loop(fn: Callable[..., _T], *args: Any) -> _T:
    """From a worker thread: call ``fn(*args)`` in the loop's thread; block for its result."""
    loop = _worker_loop()
    result: concurrent.futures.Future[_T] = concurrent.futures.Future()

    def call() -> None:
        if not result.set_running_or_notify_cancel():
            return
        try:
            result.set_result(fn(*args))
        except BaseException as error:
            result.set_exception(error)

    loop.call_soon_threadsafe(call)
    return result.result()
