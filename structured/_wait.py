"""Checkpoints and sleeping: the places where a cancelled task learns it is cancelled.

treadle has no private parking primitive: a task parks the asyncio way, on a future, and the cancel
tree (``_cancel.py``) wakes it with ``task.cancel()``. So every asyncio await is already a
checkpoint; the functions here add Trio's explicit ones and its time vocabulary.
"""

from __future__ import annotations

import asyncio
import math
import types
from collections.abc import Generator
from typing import Any, NoReturn

from ._cancel import effective_cancel
from ._tasks import states


@types.coroutine
def _yield_to_loop() -> Generator[None, None, None]:
    # A bare yield: asyncio's Task reschedules itself with call_soon (what asyncio.sleep(0) does,
    # minus a coroutine object and a frame).
    yield


def _raise_if_cancelled() -> None:
    task = asyncio.current_task()
    if task is None:
        raise RuntimeError("this must be called from inside an asyncio task")
    state = states.get(task)
    if state is not None:
        origin = effective_cancel(state.scope)
        if origin is not None:
            raise asyncio.CancelledError(origin._reason)


async def checkpoint_if_cancelled() -> None:
    """Raise CancelledError if the calling task is inside a cancelled scope; never yields.

    Cheaper than :func:`checkpoint` where a loop body must be cancellable but need not yield.
    """
    _raise_if_cancelled()


async def checkpoint() -> None:
    """A full checkpoint: raise CancelledError if cancelled, else let other tasks run once."""
    _raise_if_cancelled()
    await _yield_to_loop()


async def sleep(seconds: float) -> None:
    """Sleep ``seconds`` of loop time (virtual under a MockClock); ``sleep(0)`` is a checkpoint.

    Raises ValueError for a negative or NaN duration (Trio's rule; asyncio.sleep accepts them).
    """
    if not seconds >= 0:
        raise ValueError("sleep duration must be non-negative")
    if seconds == 0:
        await checkpoint()
        return
    await sleep_until(asyncio.get_running_loop().time() + seconds)


async def sleep_until(deadline: float) -> None:
    """Sleep until the loop's clock reaches ``deadline``; a past deadline is a checkpoint."""
    if math.isnan(deadline):
        raise ValueError("deadline must not be NaN")
    _raise_if_cancelled()
    loop = asyncio.get_running_loop()
    if deadline <= loop.time():
        await _yield_to_loop()
        return
    if deadline == math.inf:
        await sleep_forever()
    future: asyncio.Future[None] = loop.create_future()
    timer = loop.call_at(deadline, _wake, future)
    try:
        await future
    finally:
        timer.cancel()


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def sleep_forever() -> NoReturn:
    """Park until cancelled."""
    _raise_if_cancelled()
    await asyncio.get_running_loop().create_future()
    raise AssertionError("a future nobody can reach completed")  # pragma: no cover


def current_time() -> float:
    """The running loop's time (``loop.time()``), virtual under a MockClock."""
    return asyncio.get_running_loop().time()


def current_effective_deadline() -> float:
    """The earliest deadline that can cancel the calling task; ``-inf`` if already cancelled.

    Walks the task's scopes outwards until a shielded one, as Trio's does. ``inf`` when nothing
    can time out.
    """
    task = asyncio.current_task()
    if task is None:
        raise RuntimeError("this must be called from inside an asyncio task")
    state = states.get(task)
    scope = state.scope if state is not None else None
    deadline = math.inf
    while scope is not None:
        if scope._cancel_called:
            return -math.inf
        deadline = min(deadline, scope._deadline)
        if scope._shield:
            break
        scope = scope._parent
    return deadline


async def wait_all_tasks_blocked(cushion: float = 0.0) -> None:
    """Return once the loop has had nothing to run for ``cushion`` seconds (real time).

    "Nothing to run": no ready callbacks, no I/O, no timer due; every other task is parked.
    Needs a treadle loop (it uses ``loop.call_when_idle``). A checkpoint.
    """
    loop: Any = asyncio.get_running_loop()
    call_when_idle = getattr(loop, "call_when_idle", None)
    if call_when_idle is None:
        raise RuntimeError("wait_all_tasks_blocked() needs a treadle event loop")
    _raise_if_cancelled()
    future: asyncio.Future[None] = loop.create_future()
    handle = call_when_idle(cushion, _wake, future)
    try:
        await future
    finally:
        handle.cancel()
