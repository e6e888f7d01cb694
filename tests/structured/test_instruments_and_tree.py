"""Instruments (task and I/O wait hooks) and task_tree() introspection."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

import treadle
from treadle.structured import (
    Instrument,
    MockClock,
    add_instrument,
    move_on_after,
    open_nursery,
    remove_instrument,
    sleep,
    sleep_forever,
    task_tree,
    track_task_creators,
    wait_all_tasks_blocked,
)

Runner = Callable[[Coroutine[Any, Any, Any]], Any]


class Recorder(Instrument):
    def __init__(self) -> None:
        self.events: list[tuple[str, asyncio.Task[Any]]] = []

    def task_spawned(self, task: asyncio.Task[Any]) -> None:
        self.events.append(("spawned", task))

    def task_scheduled(self, task: asyncio.Task[Any]) -> None:
        self.events.append(("scheduled", task))

    def before_task_step(self, task: asyncio.Task[Any]) -> None:
        self.events.append(("before", task))

    def after_task_step(self, task: asyncio.Task[Any]) -> None:
        self.events.append(("after", task))

    def task_exited(self, task: asyncio.Task[Any]) -> None:
        self.events.append(("exited", task))


class IOWaits:
    def __init__(self) -> None:
        self.waits = 0

    def before_io_wait(self, timeout: float) -> None:
        self.waits += 1


def test_task_hooks_see_a_tasks_life(trun: Runner, tloop: asyncio.AbstractEventLoop) -> None:
    # trio: test_instruments (spawned, scheduled, steps, exited, in order)
    recorder = Recorder()
    add_instrument(recorder, tloop)

    async def child() -> None:
        await asyncio.sleep(1)

    async def main() -> asyncio.Task[Any]:
        task = asyncio.create_task(child(), name="child")
        await task
        return task

    try:
        task = trun(main())
    finally:
        remove_instrument(recorder, tloop)
    # (task_spawned runs inside the task factory: asyncio names the task after it returns.)
    child_events = [kind for kind, seen in recorder.events if seen is task]
    assert child_events == [
        "spawned",
        "scheduled",
        "before",
        "after",
        "scheduled",
        "before",
        "after",
        "exited",
    ]


def test_io_wait_hooks_and_partial_instruments(
    trun: Runner, tloop: asyncio.AbstractEventLoop
) -> None:
    waits = IOWaits()  # defines one hook only; the others are skipped
    add_instrument(waits, tloop)
    try:
        trun(asyncio.sleep(1))
    finally:
        remove_instrument(waits, tloop)
    assert waits.waits >= 1
    assert tloop.get_task_factory() is None  # everything uninstalled


def test_remove_unknown_instrument_raises(tloop: asyncio.AbstractEventLoop) -> None:
    with pytest.raises(KeyError):
        remove_instrument(Recorder(), tloop)


def test_failing_instrument_is_removed_and_reported(tloop: asyncio.AbstractEventLoop) -> None:
    class Broken:
        def task_spawned(self, task: asyncio.Task[Any]) -> None:
            raise ValueError("instrument bug")

    contexts: list[dict[str, Any]] = []
    tloop.set_exception_handler(lambda _, context: contexts.append(context))
    broken = Broken()
    add_instrument(broken, tloop)
    tloop.run_until_complete(asyncio.sleep(0))
    assert isinstance(contexts[0]["exception"], ValueError)
    with pytest.raises(KeyError):
        remove_instrument(broken, tloop)


def test_task_tree_shows_nurseries_scopes_and_plain_tasks(
    trun: Runner, tloop: asyncio.AbstractEventLoop
) -> None:
    track_task_creators(tloop)

    async def main() -> str:
        async with open_nursery() as nursery:
            nursery.start_soon(sleep_forever, name="sleeper")

            async def with_deadline() -> None:
                with move_on_after(50):
                    await sleep_forever()

            nursery.start_soon(with_deadline, name="timed")
            plain = asyncio.create_task(asyncio.sleep(100), name="plain")
            await wait_all_tasks_blocked()
            text = task_tree().render()
            plain.cancel()
            nursery.cancel_scope.cancel()
        return text

    text = trun(main())
    lines = text.splitlines()
    assert lines[0].startswith("task ")
    assert "[running]" in lines[0]
    assert "  nursery" in lines
    assert any(
        "task 'sleeper' [waiting] at sleep_forever:" in line and line.startswith("    ")
        for line in lines
    )
    assert any("'timed'" in line and "scope(deadline=50)" in line for line in lines)
    assert any(line.startswith("  task 'plain' [waiting]") for line in lines)


def test_task_tree_marks_cancelling_tasks(trun: Runner) -> None:
    async def main() -> str:
        with move_on_after(1) as scope:
            scope.cancel()
            text = task_tree().render()
            await sleep(1)
        return text

    assert "(cancelling)" in trun(main())


def test_task_tree_shows_the_users_frame_for_runs_main_task() -> None:
    # run() wraps main in a root cancel scope; the tree shows main's line, not the wrapper's.
    async def observe(trees: list[str]) -> None:
        await wait_all_tasks_blocked()
        trees.append(task_tree().render())

    async def main() -> list[str]:
        trees: list[str] = []
        async with open_nursery() as nursery:
            nursery.start_soon(observe, trees)
            await sleep(1)  # main waits here while observe looks
        return trees

    [text] = treadle.run(main, clock=MockClock(autojump_threshold=0))
    first = text.splitlines()[0]
    assert first.startswith("task 'Task-"), text
    assert "' [waiting] at main:" in first, text
    line = int(first.split("at main:")[1].split()[0])
    assert inspect.getsource(main).splitlines()[line - main.__code__.co_firstlineno].strip() == (
        "await sleep(1)  # main waits here while observe looks"
    )
    assert "_under_root_scope" not in text
