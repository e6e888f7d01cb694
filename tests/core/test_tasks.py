"""Tasks on the loop: create_task, task factories, eager tasks, current/all tasks, timeouts,
TaskGroup, and async generator finalization (the loop's asyncgen hooks, shutdown_asyncgens).

Each body runs on asyncio's loop (the oracle) and on treadle through the ``loop`` fixture.
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import re
import sys
from collections.abc import AsyncGenerator, Callable, Coroutine
from typing import Any

import pytest

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="unset")

Run = Callable[[Any], Any]


async def _value(value: object) -> object:
    return value


# --- create_task -----------------------------------------------------------------------------


def test_create_task_returns_task_that_runs(loop: asyncio.AbstractEventLoop, run: Run) -> None:
    task = loop.create_task(_value(42))
    assert isinstance(task, asyncio.Task)
    assert task.get_loop() is loop
    assert not task.done()
    assert run(task) == 42


def test_create_task_default_name(loop: asyncio.AbstractEventLoop, run: Run) -> None:
    task = loop.create_task(_value(None))
    assert re.fullmatch(r"Task-\d+", task.get_name())
    run(task)


def test_create_task_name(loop: asyncio.AbstractEventLoop, run: Run) -> None:
    task = loop.create_task(_value(None), name="worker")
    assert task.get_name() == "worker"
    run(task)


def test_create_task_context(loop: asyncio.AbstractEventLoop, run: Run) -> None:
    ctx = contextvars.copy_context()
    ctx.run(request_id.set, "task-ctx")

    async def read_then_write() -> str:
        seen = request_id.get()
        request_id.set("written-by-task")
        return seen

    assert run(loop.create_task(read_then_write(), context=ctx)) == "task-ctx"
    assert ctx[request_id] == "written-by-task"
    assert request_id.get() == "unset"


def test_create_task_copies_current_context(loop: asyncio.AbstractEventLoop, run: Run) -> None:
    async def main() -> str:
        request_id.set("parent")
        child = asyncio.get_running_loop().create_task(_read_var())
        request_id.set("parent-changed")
        return await child

    assert run(main()) == "parent"


async def _read_var() -> str:
    return request_id.get()


async def _await(fut: asyncio.Future[Any]) -> Any:
    return await fut


async def _first_step(agen: AsyncGenerator[int, None]) -> int:
    # The loop's firstiter hook only sees generators first iterated while it runs.
    return await agen.__anext__()


def test_create_task_rejects_non_coroutine(loop: asyncio.AbstractEventLoop) -> None:
    with pytest.raises(TypeError, match="a coroutine was expected, got 123"):
        loop.create_task(123)  # type: ignore[arg-type]


# --- task factory ----------------------------------------------------------------------------


def test_task_factory_default_is_none(loop: asyncio.AbstractEventLoop) -> None:
    assert loop.get_task_factory() is None


def test_set_task_factory_rejects_non_callable(loop: asyncio.AbstractEventLoop) -> None:
    with pytest.raises(TypeError) as excinfo:
        loop.set_task_factory(1)  # type: ignore[arg-type]
    assert str(excinfo.value) == "task factory must be a callable or None"
    assert loop.get_task_factory() is None


class _MarkedTask(asyncio.Task[Any]):
    pass


def _marked_factory(
    loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], **kwargs: Any
) -> asyncio.Task[Any]:
    return _MarkedTask(coro, loop=loop, **kwargs)


def test_task_factory_is_used_by_create_task_and_ensure_future(
    loop: asyncio.AbstractEventLoop, run: Run
) -> None:
    loop.set_task_factory(_marked_factory)  # type: ignore[arg-type]  # typeshed: no context=
    assert loop.get_task_factory() is _marked_factory

    async def main() -> list[bool]:
        a = loop.create_task(_value(1))
        b = asyncio.ensure_future(_value(2))
        results = await asyncio.gather(_value(3))
        assert list(results) == [3]
        await a
        await b
        return [isinstance(a, _MarkedTask), isinstance(b, _MarkedTask)]

    main_task = loop.create_task(main())
    assert isinstance(main_task, _MarkedTask)
    assert run(main_task) == [True, True]
    loop.set_task_factory(None)
    assert loop.get_task_factory() is None
    plain = loop.create_task(_value(0))
    assert type(plain) is not _MarkedTask
    run(plain)


def test_task_factory_receives_loop_coro_and_context(
    loop: asyncio.AbstractEventLoop, run: Run
) -> None:
    calls: list[tuple[object, bool, dict[str, Any]]] = []

    def factory(
        ev_loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], **kwargs: Any
    ) -> asyncio.Task[Any]:
        calls.append((ev_loop, asyncio.iscoroutine(coro), dict(kwargs)))
        return asyncio.Task(coro, loop=ev_loop, **kwargs)

    loop.set_task_factory(factory)  # type: ignore[arg-type]  # typeshed: no context=
    ctx = contextvars.copy_context()
    run(loop.create_task(_value(None)))
    run(loop.create_task(_value(None), context=ctx))
    assert [(c[0], c[1]) for c in calls] == [(loop, True), (loop, True)]
    # The factory gets the caller's context= (and no context when none was given).
    assert calls[0][2].get("context") is None
    assert calls[1][2].get("context") is ctx


def test_task_factory_name_is_applied(loop: asyncio.AbstractEventLoop, run: Run) -> None:
    loop.set_task_factory(_marked_factory)  # type: ignore[arg-type]  # typeshed: no context=
    task = loop.create_task(_value(None), name="named-by-caller")
    assert task.get_name() == "named-by-caller"
    run(task)


@pytest.mark.skipif(sys.version_info < (3, 12), reason="eager_task_factory is new in 3.12")
def test_eager_task_factory_runs_until_first_suspension(
    loop: asyncio.AbstractEventLoop, run: Run
) -> None:
    steps: list[str] = []

    async def child() -> str:
        steps.append("child started")
        assert asyncio.current_task() is not None
        await asyncio.sleep(0)
        steps.append("child resumed")
        return "child done"

    async def main() -> None:
        task = loop.create_task(child())
        steps.append("create_task returned")
        assert await task == "child done"

    loop.set_task_factory(asyncio.eager_task_factory)  # type: ignore[attr-defined]
    run(main())
    assert steps == ["child started", "create_task returned", "child resumed"]


@pytest.mark.skipif(sys.version_info < (3, 12), reason="eager_task_factory is new in 3.12")
def test_eager_task_that_never_suspends_is_done_at_once(
    loop: asyncio.AbstractEventLoop, run: Run
) -> None:
    async def main() -> None:
        task = loop.create_task(_value("eager"))
        assert task.done()
        assert task.result() == "eager"
        assert task not in asyncio.all_tasks()

    loop.set_task_factory(asyncio.eager_task_factory)  # type: ignore[attr-defined]
    run(main())


@pytest.mark.skipif(sys.version_info < (3, 12), reason="eager_task_factory is new in 3.12")
def test_eager_task_current_task_and_name(loop: asyncio.AbstractEventLoop, run: Run) -> None:
    seen: list[object] = []

    async def who() -> None:
        seen.append(asyncio.current_task())

    async def main() -> None:
        outer = asyncio.current_task()
        task = loop.create_task(who(), name="eager-one")
        assert seen == [task]
        assert asyncio.current_task() is outer
        assert task.get_name() == "eager-one"

    loop.set_task_factory(asyncio.eager_task_factory)  # type: ignore[attr-defined]
    run(main())


# --- current_task / all_tasks ----------------------------------------------------------------


def test_current_task_inside_and_outside_tasks(loop: asyncio.AbstractEventLoop, run: Run) -> None:
    seen: dict[str, object] = {}

    async def main() -> None:
        seen["in task"] = asyncio.current_task()
        seen["by loop"] = asyncio.current_task(loop)
        loop.call_soon(lambda: seen.setdefault("in callback", asyncio.current_task()))
        await asyncio.sleep(0)

    task = loop.create_task(main())
    run(task)
    assert seen == {"in task": task, "by loop": task, "in callback": None}
    assert asyncio.current_task(loop) is None


def test_all_tasks_lists_pending_tasks_only(loop: asyncio.AbstractEventLoop, run: Run) -> None:
    async def main() -> None:
        gate = loop.create_future()
        waiting = loop.create_task(_await(gate))
        finished = loop.create_task(_value(None))
        await finished
        await asyncio.sleep(0)
        current = asyncio.current_task()
        assert asyncio.all_tasks() == {current, waiting}
        assert asyncio.all_tasks(loop) == {current, waiting}
        gate.set_result(None)
        await waiting

    run(main())
    assert asyncio.all_tasks(loop) == set()


# --- asyncio.timeout, wait_for, cancellation --------------------------------------------------


def test_timeout_expires(loop: asyncio.AbstractEventLoop, run: Run) -> None:
    async def main() -> bool:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.02) as cm:
                await asyncio.sleep(10)
        return cm.expired()

    assert run(main()) is True


def test_timeout_not_reached(loop: asyncio.AbstractEventLoop, run: Run) -> None:
    async def main() -> tuple[bool, float | None]:
        async with asyncio.timeout(10) as cm:
            await asyncio.sleep(0)
        return cm.expired(), cm.when()

    expired, when = run(main())
    assert expired is False
    assert when is not None


def test_timeout_reschedule_and_timeout_at(loop: asyncio.AbstractEventLoop, run: Run) -> None:
    async def main() -> None:
        async with asyncio.timeout(None) as cm:
            assert cm.when() is None
            cm.reschedule(loop.time() + 10)
            await asyncio.sleep(0)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout_at(loop.time() + 0.01):
                await asyncio.sleep(10)

    run(main())


def test_nested_timeouts_inner_fires_first(loop: asyncio.AbstractEventLoop, run: Run) -> None:
    async def main() -> tuple[bool, bool]:
        async with asyncio.timeout(10) as outer:
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.01) as inner:
                    await asyncio.sleep(10)
        return inner.expired(), outer.expired()

    assert run(main()) == (True, False)


def test_wait_for_times_out_and_cancels(loop: asyncio.AbstractEventLoop, run: Run) -> None:
    cancelled: list[bool] = []

    async def slow() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    async def main() -> None:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(slow(), 0.01)

    run(main())
    assert cancelled == [True]


def test_cancel_task_waiting_on_timer(loop: asyncio.AbstractEventLoop, run: Run) -> None:
    async def main() -> None:
        task = loop.create_task(asyncio.sleep(10))
        await asyncio.sleep(0)
        assert task.cancel("stop it")
        with pytest.raises(asyncio.CancelledError):
            await task
        assert task.cancelled()

    run(main())


# --- TaskGroup ---------------------------------------------------------------------------------


def test_taskgroup_runs_children(loop: asyncio.AbstractEventLoop, run: Run) -> None:
    async def main() -> list[object]:
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(_value(i)) for i in range(5)]
        return [t.result() for t in tasks]

    assert run(main()) == [0, 1, 2, 3, 4]


def test_taskgroup_error_cancels_siblings(loop: asyncio.AbstractEventLoop, run: Run) -> None:
    cancelled: list[str] = []

    async def sibling() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append("sibling")
            raise

    async def failing() -> None:
        await asyncio.sleep(0.01)
        raise ValueError("child failed")

    async def group() -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(sibling())
            tg.create_task(failing())

    async def main() -> None:
        with pytest.raises(ExceptionGroup) as excinfo:
            await group()
        assert [type(e) for e in excinfo.value.exceptions] == [ValueError]

    run(main())
    assert cancelled == ["sibling"]


def test_taskgroup_create_task_after_exit_raises(loop: asyncio.AbstractEventLoop, run: Run) -> None:
    async def main() -> None:
        async with asyncio.TaskGroup() as tg:
            pass
        coro = _value(None)
        with pytest.raises(RuntimeError, match=r"TaskGroup .* is finished"):
            tg.create_task(coro)
        coro.close()  # 3.13 closes it itself; closing twice is harmless

    run(main())


def test_taskgroup_name_and_context(loop: asyncio.AbstractEventLoop, run: Run) -> None:
    ctx = contextvars.copy_context()
    ctx.run(request_id.set, "tg-ctx")

    async def main() -> tuple[str, str]:
        async with asyncio.TaskGroup() as tg:
            task = tg.create_task(_read_var(), name="tg-child", context=ctx)
        return task.get_name(), task.result()

    assert run(main()) == ("tg-child", "tg-ctx")


# --- async generators --------------------------------------------------------------------------


def test_asyncgen_hooks_installed_only_while_running(
    loop: asyncio.AbstractEventLoop, run: Run
) -> None:
    before = sys.get_asyncgen_hooks()

    async def main() -> tuple[object, object]:
        hooks = sys.get_asyncgen_hooks()
        return hooks.firstiter, hooks.finalizer

    firstiter, finalizer = run(main())
    assert firstiter is not None
    assert finalizer is not None
    assert sys.get_asyncgen_hooks() == before


def test_abandoned_asyncgen_is_finalized_on_the_loop(
    loop: asyncio.AbstractEventLoop, run: Run
) -> None:
    events: list[str] = []

    async def gen() -> AsyncGenerator[int, None]:
        try:
            yield 1
            yield 2
        finally:
            events.append("finally")
            # aclose() runs as a task on this loop, so awaiting here works.
            await asyncio.sleep(0)
            events.append(f"closed on {asyncio.get_running_loop() is loop}")

    async def main() -> None:
        agen = gen()
        assert await agen.__anext__() == 1
        del agen
        gc.collect()
        for _ in range(5):
            await asyncio.sleep(0)

    run(main())
    assert events == ["finally", "closed on True"]


def test_shutdown_asyncgens_closes_live_generators(
    loop: asyncio.AbstractEventLoop, run: Run
) -> None:
    events: list[str] = []

    async def gen() -> AsyncGenerator[int, None]:
        try:
            yield 1
            yield 2
        finally:
            events.append("closed")

    agen = gen()
    assert run(_first_step(agen)) == 1
    assert events == []
    run(loop.shutdown_asyncgens())
    assert events == ["closed"]
    with pytest.raises(StopAsyncIteration):
        run(agen.__anext__())


def test_shutdown_asyncgens_reports_errors_to_handler(
    loop: asyncio.AbstractEventLoop, run: Run, exception_contexts: list[dict[str, Any]]
) -> None:
    async def gen() -> AsyncGenerator[int, None]:
        try:
            yield 1
        finally:
            raise ZeroDivisionError("in finally")

    agen = gen()
    run(_first_step(agen))
    run(loop.shutdown_asyncgens())
    assert len(exception_contexts) == 1
    context = exception_contexts[0]
    assert set(context) == {"message", "exception", "asyncgen"}
    assert context["asyncgen"] is agen
    assert isinstance(context["exception"], ZeroDivisionError)
    assert context["message"] == (
        f"an error occurred during closing of asynchronous generator {agen!r}"
    )


def test_asyncgen_first_iterated_after_shutdown_warns(
    loop: asyncio.AbstractEventLoop, run: Run
) -> None:
    async def gen() -> AsyncGenerator[int, None]:
        yield 1

    run(loop.shutdown_asyncgens())
    agen = gen()
    with pytest.warns(ResourceWarning, match="was scheduled after loop.shutdown_asyncgens"):
        assert run(_first_step(agen)) == 1
    run(agen.aclose())


def test_asyncgen_hooks_restored_after_exception(loop: asyncio.AbstractEventLoop) -> None:
    before = sys.get_asyncgen_hooks()

    async def boom() -> None:
        raise LookupError

    with pytest.raises(LookupError):
        loop.run_until_complete(boom())
    assert sys.get_asyncgen_hooks() == before
