"""Task groups and cancel scopes on the treadle backend: treadle's nurseries and scopes."""

from __future__ import annotations

import asyncio
import gc
import math
import weakref
from typing import Any

import anyio
import pytest
from anyio.abc import TaskStatus

from treadle.compat.anyio._tasks import new_cancel_scope
from treadle.structured import CancelScope as NativeScope

pytestmark = pytest.mark.anyio


async def test_task_group_waits_for_children_and_returns_handles() -> None:
    async def double(value: int) -> int:
        await anyio.sleep(0.01)
        return value * 2

    async with anyio.create_task_group() as tg:
        handles = [tg.start_soon(double, n) for n in range(3)]
    assert [await handle for handle in handles] == [0, 2, 4]


async def test_child_failure_cancels_siblings_and_raises_group() -> None:
    cancelled = anyio.Event()

    async def sleeper() -> None:
        try:
            await anyio.sleep_forever()
        finally:
            cancelled.set()

    async def fail() -> None:
        await anyio.sleep(0.01)
        raise ValueError("boom")

    with pytest.RaisesGroup(pytest.RaisesExc(ValueError, match="boom")):
        async with anyio.create_task_group() as tg:
            tg.start_soon(sleeper)
            tg.start_soon(fail)
    assert cancelled.is_set()


async def test_cancellation_is_level_triggered() -> None:
    hits = 0
    with anyio.CancelScope() as scope:
        scope.cancel()
        for _ in range(3):
            try:
                await anyio.sleep(1)
            except anyio.get_cancelled_exc_class():
                hits += 1
    assert hits == 3
    assert scope.cancel_called


async def test_scope_is_a_treadle_scope() -> None:
    scope = anyio.CancelScope()
    assert isinstance(scope, NativeScope)  # treadle's own scope, not a re-emulation


async def test_shielded_scope_survives_outer_cancellation() -> None:
    finished = False
    with anyio.CancelScope() as outer:
        outer.cancel()
        with anyio.CancelScope(shield=True):
            await anyio.sleep(0.01)
            finished = True
        await anyio.sleep(1)  # the first checkpoint outside the shield raises
    assert finished
    assert outer.cancelled_caught


async def test_fail_after_raises_timeout_error() -> None:
    with pytest.raises(TimeoutError):
        with anyio.fail_after(0.01):
            await anyio.sleep(1)


async def test_start_returns_started_value_and_child_keeps_running() -> None:
    async def server(*, task_status: TaskStatus[int]) -> None:
        task_status.started(8080)
        await anyio.sleep_forever()

    async with anyio.create_task_group() as tg:
        assert await tg.start(server) == 8080
        tg.cancel_scope.cancel()


async def test_start_raises_the_child_error_itself() -> None:
    async def broken(*, task_status: TaskStatus[None]) -> None:
        raise KeyError("before started")

    async with anyio.create_task_group() as tg:
        with pytest.raises(KeyError):
            await tg.start(broken)


async def test_start_without_started_is_a_runtime_error() -> None:
    async def lazy(*, task_status: TaskStatus[None]) -> None:
        pass

    async with anyio.create_task_group() as tg:
        with pytest.raises(RuntimeError, match=r"without calling task_status\.started"):
            await tg.start(lazy)


async def test_cancelling_group_of_sleepers_ends_them_all() -> None:
    async with anyio.create_task_group() as tg:
        for _ in range(50):
            tg.start_soon(anyio.sleep_forever)
        await anyio.wait_all_tasks_blocked()
        tg.cancel_scope.cancel()
    assert tg.cancel_scope.cancelled_caught


async def test_task_info_parent_and_pending_cancellation() -> None:
    me = anyio.get_current_task()
    infos: list[anyio.TaskInfo] = []

    async def child() -> None:
        infos.append(anyio.get_current_task())

    async with anyio.create_task_group() as tg:
        tg.start_soon(child)
    assert infos[0].parent_id == me.id
    assert not me.has_pending_cancellation()
    with anyio.CancelScope() as scope:  # noqa: ASYNC100  # only the pending state is read
        scope.cancel()
        assert me.has_pending_cancellation()
    assert me in anyio.get_running_tasks()


async def test_native_task_cancel_passes_through_scopes() -> None:
    async def victim() -> None:
        with anyio.CancelScope():
            await anyio.sleep_forever()

    task = asyncio.get_running_loop().create_task(victim())
    await anyio.wait_all_tasks_blocked()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_task_handles_record_return_error_and_cancellation() -> None:
    async def answer() -> int:
        await anyio.sleep(0.01)
        return 42

    async def fail() -> None:
        await anyio.sleep(0.02)
        raise ValueError("boom")

    with pytest.RaisesGroup(pytest.RaisesExc(ValueError, match="boom")):
        async with anyio.create_task_group() as tg:
            finished = tg.start_soon(answer)
            cancelled = tg.start_soon(anyio.sleep_forever)
            failed = tg.start_soon(fail)
            await anyio.wait_all_tasks_blocked()
            cancelled.cancel()  # the handle's own scope: the group goes on
    assert finished.return_value == 42
    assert cancelled.status is anyio.TaskHandle.Status.CANCELLED
    assert isinstance(failed.exception, ValueError)


async def test_ended_children_are_freed_by_reference_counting() -> None:
    # A child's runner frame is in its error's traceback; nothing it holds may lead back to the
    # task (which keeps that error), or every ended child waits for the cyclic GC.
    refs: list[weakref.ref[asyncio.Task[Any]]] = []

    async def child(fail: bool) -> None:
        task = asyncio.current_task()
        assert task is not None
        refs.append(weakref.ref(task))
        del task
        if fail:
            raise ValueError("boom")
        await anyio.sleep_forever()

    gc.disable()
    try:
        with pytest.RaisesGroup(ValueError):
            async with anyio.create_task_group() as tg:
                for fail in (False, False, True):
                    tg.start_soon(child, fail)
        assert [ref() for ref in refs] == [None, None, None]
    finally:
        gc.enable()


def test_new_cancel_scope_matches_native_init() -> None:
    # new_cancel_scope inlines treadle's CancelScope.__init__: the two must set the same fields.
    fields = [name for name in NativeScope.__slots__ if name != "__weakref__"]
    for kwargs in ({}, {"deadline": 5.0, "shield": True}):
        inlined = new_cancel_scope(**kwargs)  # type: ignore[arg-type]
        native = NativeScope(**kwargs)  # type: ignore[arg-type]
        assert {f: getattr(inlined, f) for f in fields} == {f: getattr(native, f) for f in fields}
    with pytest.raises(ValueError, match="NaN"):
        new_cancel_scope(deadline=math.nan)


async def test_task_handle_cancelled_before_it_starts() -> None:
    reached: list[str] = []

    async def child() -> None:
        reached.append("first step")
        await anyio.sleep(1)
        reached.append("after the checkpoint")  # pragma: no cover  # cancelled there

    async with anyio.create_task_group() as tg:
        handle = tg.start_soon(child)
        handle.cancel()
    assert reached == ["first step"]
    assert handle.status is anyio.TaskHandle.Status.CANCELLED
