"""What treadle's bookkeeping must not keep alive: finished tasks, their errors, context values."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import weakref
from collections.abc import Callable, Coroutine
from typing import Any

from treadle.structured import CancelScope, open_nursery, sleep

Runner = Callable[[Coroutine[Any, Any, Any]], Any]

payload: contextvars.ContextVar[object] = contextvars.ContextVar("payload")


class Big:
    """Something whose lifetime the tests watch through a weak reference."""


def test_exited_scope_does_not_keep_its_task_or_error_alive(trun: Runner) -> None:
    # A scope object that outlives its task (kept by whoever created it) must not keep the
    # task, and so the exception it ended with, alive.
    async def fails(scope: CancelScope) -> None:
        with scope:
            raise ValueError("boom")

    async def main() -> tuple[CancelScope, weakref.ref[asyncio.Task[None]]]:
        scope = CancelScope()
        task = asyncio.get_running_loop().create_task(fails(scope))
        await asyncio.gather(task, return_exceptions=True)
        return scope, weakref.ref(task)

    gc.disable()  # what is freed must be freed by reference counting alone
    try:
        scope, task_ref = trun(main())
        assert task_ref() is None
        assert scope.cancelled_caught is False
    finally:
        gc.enable()


def test_nursery_child_does_not_keep_its_creators_context_values(trun: Runner) -> None:
    # The done callback that reports a child's end runs in an empty context, not in a copy of
    # the creator's: once the child dropped a value (its own context moved on) and the creator
    # did too, the value dies while the child still runs.
    released = asyncio.Event()

    async def child() -> None:
        payload.set(None)
        released.set()
        await sleep(1)

    async def main() -> None:
        big = Big()
        ref = weakref.ref(big)
        token = payload.set(big)
        async with open_nursery() as nursery:
            nursery.start_soon(child)
            payload.reset(token)
            del big
            await released.wait()
            assert ref() is None

    gc.disable()  # what is freed must be freed by reference counting alone
    try:
        trun(main())
    finally:
        gc.enable()
