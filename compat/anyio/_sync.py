"""Events, locks, semaphores and capacity limiters for the treadle backend.

Each waits the asyncio way, on a future, so treadle's cancel scopes reach a parked waiter with
``task.cancel()`` like any other await. Semantics and error messages are AnyIO's (the same for
every backend): FIFO hand-over, ``fast_acquire`` skipping the yield on an uncontended acquire,
a cancelled waiter that was already handed the resource passing it on.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

import anyio
from anyio import (
    CapacityLimiterStatistics,
    EventStatistics,
    LockStatistics,
    SemaphoreStatistics,
    WouldBlock,
)

from treadle.structured import checkpoint, checkpoint_if_cancelled

from ._native import NativeScope, TokenLedger, wait_for_token
from ._taskinfo import TreadleTaskInfo


async def cancel_shielded_checkpoint() -> None:
    """Let other tasks run once, immune to cancel scopes (AnyIO's cancel_shielded_checkpoint)."""
    with NativeScope(shield=True):
        await asyncio.sleep(0)


def _current_task() -> asyncio.Task[Any]:
    task = asyncio.current_task()
    if task is None:
        raise RuntimeError("this must be called from inside a task")
    return task


class Event(anyio.Event):
    __slots__ = ("_flag", "_waiters")

    def __new__(cls) -> Self:
        return object.__new__(cls)

    def __init__(self) -> None:
        self._flag = False
        # Made by the first wait(): every AnyIO task has an Event (its TaskHandle's) that
        # mostly nobody waits on.
        self._waiters: set[asyncio.Future[None]] | None = None

    def set(self) -> None:
        if self._flag:
            return
        self._flag = True
        if self._waiters:
            for waiter in self._waiters:
                if not waiter.done():
                    waiter.set_result(None)
            self._waiters.clear()

    def is_set(self) -> bool:
        return self._flag

    async def wait(self) -> None:
        if self._flag:
            await checkpoint()
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = set()
        waiters = self._waiters
        waiters.add(waiter)
        try:
            await waiter
        finally:
            waiters.discard(waiter)

    def statistics(self) -> EventStatistics:
        return EventStatistics(len(self._waiters or ()))


class Lock(anyio.Lock):
    __slots__ = ("_fast_acquire", "_owner", "_waiters")

    def __new__(cls, *, fast_acquire: bool = False) -> Self:
        return object.__new__(cls)

    def __init__(self, *, fast_acquire: bool = False) -> None:
        self._fast_acquire = fast_acquire
        self._owner: asyncio.Task[Any] | None = None
        self._waiters: deque[tuple[asyncio.Task[Any], asyncio.Future[None]]] = deque()

    async def acquire(self) -> None:
        task = _current_task()
        if self._owner is None and not self._waiters:
            await checkpoint_if_cancelled()
            self._owner = task
            if not self._fast_acquire:
                try:
                    await cancel_shielded_checkpoint()
                except BaseException:
                    self.release()
                    raise
            return
        if self._owner is task:
            raise RuntimeError("Attempted to acquire an already held Lock")
        waiter: asyncio.Future[None] = task.get_loop().create_future()
        entry = (task, waiter)
        self._waiters.append(entry)
        await _wait_for_handover(waiter, self._waiters, entry, self.release)

    def acquire_nowait(self) -> None:
        task = _current_task()
        if self._owner is None and not self._waiters:
            self._owner = task
            return
        if self._owner is task:
            raise RuntimeError("Attempted to acquire an already held Lock")
        raise WouldBlock

    def locked(self) -> bool:
        return self._owner is not None

    def release(self) -> None:
        if self._owner is not asyncio.current_task():
            raise RuntimeError("The current task is not holding this lock")
        while self._waiters:
            task, waiter = self._waiters.popleft()
            if not waiter.done():
                self._owner = task
                waiter.set_result(None)
                return
        self._owner = None

    def statistics(self) -> LockStatistics:
        owner = TreadleTaskInfo(self._owner) if self._owner is not None else None
        return LockStatistics(self.locked(), owner, len(self._waiters))


class Semaphore(anyio.Semaphore):
    __slots__ = ("_fast_acquire", "_max_value", "_value", "_waiters")

    def __new__(
        cls, initial_value: int, *, max_value: int | None = None, fast_acquire: bool = False
    ) -> Self:
        return object.__new__(cls)

    def __init__(
        self, initial_value: int, *, max_value: int | None = None, fast_acquire: bool = False
    ) -> None:
        super().__init__(initial_value, max_value=max_value)  # AnyIO's argument checks
        self._value = initial_value
        self._max_value = max_value
        self._fast_acquire = fast_acquire
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def acquire(self) -> None:
        if self._value > 0 and not self._waiters:
            await checkpoint_if_cancelled()
            self._value -= 1
            if not self._fast_acquire:
                try:
                    await cancel_shielded_checkpoint()
                except BaseException:
                    self.release()
                    raise
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        await _wait_for_handover(waiter, self._waiters, waiter, self.release)

    def acquire_nowait(self) -> None:
        if self._value == 0:
            raise WouldBlock
        self._value -= 1

    def release(self) -> None:
        if self._max_value is not None and self._value == self._max_value:
            raise ValueError("semaphore released too many times")
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._value += 1

    @property
    def value(self) -> int:
        return self._value

    @property
    def max_value(self) -> int | None:
        return self._max_value

    def statistics(self) -> SemaphoreStatistics:
        return SemaphoreStatistics(len(self._waiters))


_ALREADY_HELD = "this borrower is already holding one of this CapacityLimiter's tokens"


class CapacityLimiter(anyio.CapacityLimiter):
    """AnyIO's CapacityLimiter; the tokens are kept by treadle's TokenLedger, as treadle's own."""

    __slots__ = ("_ledger",)

    def __new__(cls, total_tokens: float) -> Self:
        return object.__new__(cls)

    def __init__(self, total_tokens: float) -> None:
        self._ledger = TokenLedger()
        self.total_tokens = total_tokens

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        self.release()

    @property
    def total_tokens(self) -> float:
        return self._ledger.total

    @total_tokens.setter
    def total_tokens(self, value: float) -> None:
        if not isinstance(value, int) and not math.isinf(value):
            raise TypeError("total_tokens must be an int or math.inf")
        if value < 0:
            raise ValueError("total_tokens must be >= 0")
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
            return
        try:
            await cancel_shielded_checkpoint()
        except BaseException:
            self.release_on_behalf_of(borrower)
            raise

    def release(self) -> None:
        self.release_on_behalf_of(_current_task())

    def release_on_behalf_of(self, borrower: object) -> None:
        self._ledger.give_back(borrower)

    def statistics(self) -> CapacityLimiterStatistics:
        ledger = self._ledger
        return CapacityLimiterStatistics(
            len(ledger.borrowers), ledger.total, tuple(ledger.borrowers), len(ledger.waiting)
        )


async def _wait_for_handover(
    waiter: asyncio.Future[None], queue: deque[Any], entry: object, release: Callable[[], None]
) -> None:
    """Await ``waiter``, queued in ``queue`` as ``entry``, until the holder hands over to us.

    Interrupted (cancelled) after the handover already happened, we pass what we were handed on
    with ``release``; before it, we leave the queue.
    """
    try:
        await waiter
    except BaseException:
        if waiter.done() and not waiter.cancelled():
            release()
        else:
            _discard(queue, entry)
        raise


def _discard(queue: deque[Any], item: object) -> None:
    try:
        queue.remove(item)
    except ValueError:
        pass  # already handed over and popped
