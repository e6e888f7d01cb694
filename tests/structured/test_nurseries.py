"""Nurseries: children, start(), failure propagation, strict exception groups.

Scenarios marked "trio:" are ported (as scenarios, in our own code) from python-trio/trio's
src/trio/_core/_tests/test_run.py nursery tests.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from treadle.structured import (
    CancelScope,
    TaskStatus,
    current_time,
    move_on_after,
    open_nursery,
    sleep,
    sleep_forever,
    wait_all_tasks_blocked,
)
from treadle.structured._nursery import report_child_exit
from treadle.structured._tasks import TaskState

Runner = Callable[[Coroutine[Any, Any, Any]], Any]


def test_nursery_waits_for_children(trun: Runner) -> None:
    # trio: test_basic_nursery / test_child_crash_basic counterparts
    async def main() -> tuple[list[int], float]:
        done = []

        async def child(n: int) -> None:
            await sleep(n)
            done.append(n)

        async with open_nursery() as nursery:
            nursery.start_soon(child, 3)
            nursery.start_soon(child, 1)
            nursery.start_soon(child, 2)
        return done, current_time()

    assert trun(main()) == ([1, 2, 3], 3.0)


def test_child_error_cancels_siblings_and_body(trun: Runner) -> None:
    # trio: test_child_crash_wakes_parent / test_nursery_cancel_after_crash
    async def main() -> tuple[list[str], float]:
        log = []

        async def crasher() -> None:
            await sleep(1)
            raise ValueError("boom")

        async def sibling() -> None:
            try:
                await sleep_forever()
            finally:
                log.append("sibling cancelled")

        async def body() -> None:
            async with open_nursery() as nursery:
                nursery.start_soon(crasher)
                nursery.start_soon(sibling)
                try:
                    await sleep_forever()
                finally:
                    log.append("body cancelled")

        with pytest.raises(ExceptionGroup) as info:
            await body()
        assert [str(e) for e in info.value.exceptions] == ["boom"]
        return log, current_time()

    log, elapsed = trun(main())
    assert sorted(log) == ["body cancelled", "sibling cancelled"]
    assert elapsed == 1.0


def test_multiple_errors_come_out_as_one_group(trun: Runner) -> None:
    # trio: test_nursery_exception_chaining / strict_exception_groups
    async def main() -> None:
        async def fail(error: BaseException) -> None:
            raise error

        async def body() -> None:
            async with open_nursery() as nursery:
                nursery.start_soon(fail, KeyError("a"))
                nursery.start_soon(fail, ValueError("b"))

        with pytest.raises(ExceptionGroup) as info:
            await body()
        assert sorted(type(e).__name__ for e in info.value.exceptions) == ["KeyError", "ValueError"]

    trun(main())


def test_single_error_is_still_wrapped(trun: Runner) -> None:
    # Trio's strict exception groups: even one error comes out in a group.
    async def main() -> None:
        async def fail() -> None:
            raise ValueError("only")

        with pytest.raises(ExceptionGroup):
            async with open_nursery() as nursery:
                nursery.start_soon(fail)

    trun(main())


def test_body_error_waits_for_children_and_joins_group(trun: Runner) -> None:
    # trio: test_nursery_body_crash_waits_for_children
    async def main() -> tuple[list[str], float]:
        log = []

        async def slow_cleanup() -> None:
            try:
                await sleep_forever()
            finally:
                with CancelScope(shield=True):
                    await sleep(2)
                log.append("cleaned up")

        async def body() -> None:
            async with open_nursery() as nursery:
                nursery.start_soon(slow_cleanup)
                await sleep(1)
                raise RuntimeError("body failed")

        with pytest.raises(ExceptionGroup) as info:
            await body()
        assert [str(e) for e in info.value.exceptions] == ["body failed"]
        return log, current_time()

    assert trun(main()) == (["cleaned up"], 3.0)


def test_base_exception_group_for_base_exceptions(trun: Runner) -> None:
    async def main() -> None:
        class Stop(BaseException):
            pass

        async def fail() -> None:
            raise Stop

        with pytest.raises(BaseExceptionGroup) as info:
            async with open_nursery() as nursery:
                nursery.start_soon(fail)
        assert not isinstance(info.value, ExceptionGroup)

    trun(main())


def test_cancel_scope_of_nursery_cancels_everything_quietly(trun: Runner) -> None:
    # trio: test_nursery_cancel_scope / "cancelling a nursery of sleeping tasks"
    async def main() -> tuple[bool, float]:
        async with open_nursery() as nursery:
            for _ in range(10):
                nursery.start_soon(sleep_forever)
            await sleep(1)
            nursery.cancel_scope.cancel()
        return nursery.cancel_scope.cancelled_caught, current_time()

    assert trun(main()) == (True, 1.0)


def test_outer_deadline_cancels_nursery_and_is_caught_outside(trun: Runner) -> None:
    async def main() -> tuple[bool, float]:
        with move_on_after(5) as scope:
            async with open_nursery() as nursery:
                nursery.start_soon(sleep_forever)
                nursery.start_soon(sleep, 100)
        return scope.cancelled_caught, current_time()

    assert trun(main()) == (True, 5.0)


def test_start_returns_started_value_and_child_lives_on(trun: Runner) -> None:
    # trio: test_nursery_start
    async def main() -> tuple[str, list[str], float]:
        log = []

        async def server(port: int, *, task_status: TaskStatus[Any]) -> None:
            await sleep(1)
            task_status.started(f"listening on {port}")
            await sleep(2)
            log.append("server done")

        async with open_nursery() as nursery:
            value = await nursery.start(server, 8080)
            log.append(f"started at {current_time()}")
        return value, log, current_time()

    assert trun(main()) == ("listening on 8080", ["started at 1.0", "server done"], 3.0)


def test_start_child_error_before_started_raises_from_start(trun: Runner) -> None:
    # trio: test_nursery_start (crash before started)
    async def main() -> None:
        async def broken(*, task_status: TaskStatus[Any]) -> None:
            raise ValueError("no")

        async with open_nursery() as nursery:
            with pytest.raises(ValueError, match="no"):
                await nursery.start(broken)

    trun(main())


def test_start_child_that_never_calls_started(trun: Runner) -> None:
    async def main() -> None:
        async def lazy(*, task_status: TaskStatus[Any]) -> None:
            pass

        async with open_nursery() as nursery:
            with pytest.raises(RuntimeError, match=r"without calling task_status\.started"):
                await nursery.start(lazy)

    trun(main())


def test_start_runs_in_callers_scope_until_started(trun: Runner) -> None:
    # trio: test_nursery_start (cancelling start() cancels the child before started)
    async def main() -> tuple[bool, float]:
        async def never_ready(*, task_status: TaskStatus[Any]) -> None:
            await sleep_forever()

        async with open_nursery() as nursery:
            with move_on_after(2) as scope:
                await nursery.start(never_ready)
        return scope.cancelled_caught, current_time()

    assert trun(main()) == (True, 2.0)


def test_started_child_moves_out_of_callers_scope(trun: Runner) -> None:
    async def main() -> float:
        finished = []

        async def worker(*, task_status: TaskStatus[Any]) -> None:
            with CancelScope():  # an open scope of its own moves along with it
                task_status.started()
                await sleep(5)
            finished.append(current_time())

        async with open_nursery() as nursery:
            with move_on_after(1):
                await nursery.start(worker)
                await sleep_forever()
        return finished[0]

    assert trun(main()) == 5.0


def test_started_twice_raises(trun: Runner) -> None:
    async def main() -> None:
        async def twice(*, task_status: TaskStatus[Any]) -> None:
            task_status.started()
            with pytest.raises(RuntimeError, match="twice"):
                task_status.started()

        async with open_nursery() as nursery:
            await nursery.start(twice)

    trun(main())


def test_start_soon_into_closed_nursery_raises(trun: Runner) -> None:
    # trio: test_nursery_closure
    async def main() -> None:
        async with open_nursery() as nursery:
            pass
        with pytest.raises(RuntimeError, match="closed to new arrivals"):
            nursery.start_soon(sleep, 1)
        with pytest.raises(RuntimeError, match="closed to new arrivals"):
            await nursery.start(sleep, 1)

    trun(main())


def test_start_soon_allowed_while_exit_waits(trun: Runner) -> None:
    # trio: children may spawn siblings while __aexit__ waits
    async def main() -> list[str]:
        log = []

        async def spawner(nursery: Any) -> None:
            await sleep(1)
            nursery.start_soon(late)

        async def late() -> None:
            await sleep(1)
            log.append("late child ran")

        async with open_nursery() as nursery:
            nursery.start_soon(spawner, nursery)
        return log

    assert trun(main()) == ["late child ran"]


def test_start_soon_rejects_non_async_function(trun: Runner) -> None:
    async def main() -> None:
        def sync() -> None:
            pass

        async with open_nursery() as nursery:
            with pytest.raises(TypeError, match="async function"):
                nursery.start_soon(sync)  # type: ignore[arg-type]

    trun(main())


def test_child_spawned_into_cancelled_nursery_runs_to_first_checkpoint(trun: Runner) -> None:
    # trio: test_nursery_cancel_doesnt_create_cyclic_garbage's sibling scenario: a new child
    # in a cancelled scope starts, and is cancelled at its first checkpoint.
    async def main() -> list[str]:
        log = []

        async def child() -> None:
            log.append("started")
            try:
                await sleep(1)
            except asyncio.CancelledError:
                log.append("cancelled at first checkpoint")
                raise

        async with open_nursery() as nursery:
            nursery.cancel_scope.cancel()
            nursery.start_soon(child)
        return log

    assert trun(main()) == ["started", "cancelled at first checkpoint"]


def test_nested_nurseries_unwind_inner_first(trun: Runner) -> None:
    async def main() -> list[str]:
        log = []

        async def leaf(name: str) -> None:
            try:
                await sleep_forever()
            finally:
                log.append(name)

        async def middle() -> None:
            async with open_nursery() as inner:
                inner.start_soon(leaf, "inner leaf")
                await sleep_forever()

        with move_on_after(1):
            async with open_nursery() as outer:
                outer.start_soon(middle)
                outer.start_soon(leaf, "outer leaf")
        return sorted(log)

    assert trun(main()) == ["inner leaf", "outer leaf"]


def test_external_cancel_of_body_task_cancels_children_and_propagates(trun: Runner) -> None:
    # asyncio's TaskGroup rule: the body task cancelled from outside cancels the children,
    # waits for them, then the CancelledError propagates.
    async def main() -> tuple[list[str], bool]:
        log = []

        async def child() -> None:
            try:
                await sleep_forever()
            finally:
                log.append("child cancelled")

        async def body() -> None:
            async with open_nursery() as nursery:
                nursery.start_soon(child)
                await sleep_forever()

        task = asyncio.create_task(body())
        await wait_all_tasks_blocked()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return log, task.cancelled()

    assert trun(main()) == (["child cancelled"], True)


def test_child_cancelled_directly_is_not_an_error(trun: Runner) -> None:
    async def main() -> str:
        async with open_nursery() as nursery:
            child = nursery.start_soon(sleep_forever)
            await wait_all_tasks_blocked()
            child.cancel()
        return "fine"

    assert trun(main()) == "fine"


def test_nursery_child_tasks_and_parent(trun: Runner) -> None:
    async def main() -> None:
        async with open_nursery() as nursery:
            child = nursery.start_soon(sleep, 1, name="napper")
            assert nursery.child_tasks == {child}
            assert nursery.parent_task is asyncio.current_task()
            assert child.get_name() == "napper"
        assert nursery.child_tasks == frozenset()

    trun(main())


def test_wait_all_tasks_blocked(trun: Runner) -> None:
    # trio: test_wait_all_tasks_blocked
    async def main() -> list[str]:
        log = []

        async def worker() -> None:
            for _ in range(5):
                await asyncio.sleep(0)
            log.append("worker parked")
            await sleep_forever()

        async with open_nursery() as nursery:
            nursery.start_soon(worker)
            await wait_all_tasks_blocked()
            log.append("everyone blocked")
            nursery.cancel_scope.cancel()
        return log

    assert trun(main()) == ["worker parked", "everyone blocked"]


async def _reporting_runner(coro: Coroutine[Any, Any, Any], state: TaskState) -> Any:
    try:
        result = await coro
    except BaseException as exc:
        report_child_exit(state, exc)
        raise
    report_child_exit(state, None)
    return result


def test_runner_child_leaves_nursery_in_its_last_step(trun: Runner) -> None:
    # No done callback: the nursery forgets the child before the task's own callbacks run.
    async def main() -> list[object]:
        seen: list[object] = []
        async with open_nursery() as nursery:
            task = nursery._spawn_with_runner(_reporting_runner, sleep(1), "runner-child")
            task.add_done_callback(lambda _: seen.append(len(nursery.child_tasks)))
            assert nursery.child_tasks == {task}
        seen.append(task.result())
        await asyncio.sleep(0)  # the host woke before the child's own done callbacks ran
        return seen

    assert trun(main()) == [None, 0]


def test_runner_children_cancel_quietly_and_fail_loudly(trun: Runner) -> None:
    async def fail() -> None:
        await sleep(1)
        raise ValueError("boom")

    async def main() -> list[bool]:
        async with open_nursery() as nursery:
            sleepers = [
                nursery._spawn_with_runner(_reporting_runner, sleep_forever(), None)
                for _ in range(3)
            ]
            nursery._spawn_with_runner(_reporting_runner, fail(), "failing")
        return [task.cancelled() for task in sleepers]  # pragma: no cover  # it raises

    with pytest.RaisesGroup(pytest.RaisesExc(ValueError, match="boom")):
        trun(main())
    # The failed task's error was retrieved (else asyncio logs "Task exception was never
    # retrieved" through the loop's exception handler, which fails the test in tloop).
    gc.collect()


def test_runner_child_spawned_into_closed_nursery_raises(trun: Runner) -> None:
    async def main() -> None:
        async with open_nursery() as nursery:
            pass
        coro = sleep(1)
        with pytest.raises(RuntimeError, match="closed to new arrivals"):
            nursery._spawn_with_runner(_reporting_runner, coro, None)
        coro.close()

    trun(main())
