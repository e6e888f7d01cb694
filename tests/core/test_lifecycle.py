"""A loop's life: created, run (run_until_complete / run_forever / Runner), stopped, closed.

Each body runs on asyncio's loop (the oracle) and on treadle through the ``loop`` fixture.
"""

from __future__ import annotations

import asyncio
import re
import sys
import threading
from collections.abc import Callable, Generator
from typing import Any

import pytest

LoopFactory = Callable[[], asyncio.AbstractEventLoop]
Run = Callable[[Any], Any]


def test_new_loop_is_idle_and_open(loop: asyncio.AbstractEventLoop) -> None:
    assert not loop.is_running()
    assert not loop.is_closed()
    assert isinstance(loop, asyncio.AbstractEventLoop)


def test_repr_shows_state(loop: asyncio.AbstractEventLoop) -> None:
    loop.set_debug(False)
    assert re.fullmatch(r"<\w+ running=False closed=False debug=False>", repr(loop))
    seen: list[str] = []
    loop.call_soon(lambda: seen.append(repr(loop)))
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert re.fullmatch(r"<\w+ running=True closed=False debug=False>", seen[0])
    loop.close()
    assert re.fullmatch(r"<\w+ running=False closed=True debug=False>", repr(loop))


def test_is_running_and_running_loop_inside(loop: asyncio.AbstractEventLoop, run: Run) -> None:
    async def main() -> tuple[bool, bool, bool]:
        return (
            loop.is_running(),
            asyncio.get_running_loop() is loop,
            asyncio.get_event_loop() is loop,
        )

    assert run(main()) == (True, True, True)
    assert not loop.is_running()
    assert asyncio._get_running_loop() is None


def test_get_running_loop_outside_raises() -> None:
    with pytest.raises(RuntimeError, match="no running event loop"):
        asyncio.get_running_loop()


def test_run_until_complete_returns_result(loop: asyncio.AbstractEventLoop, run: Run) -> None:
    async def answer() -> int:
        await asyncio.sleep(0)
        return 42

    assert run(answer()) == 42


def test_run_until_complete_raises_coroutine_exception(
    loop: asyncio.AbstractEventLoop, run: Run
) -> None:
    # The task wrapping the coroutine is consumed: nothing reaches the exception handler
    # (the loop fixture fails the test if it does).
    async def fail() -> None:
        raise LookupError("from coroutine")

    with pytest.raises(LookupError, match="from coroutine"):
        run(fail())
    assert run(asyncio.sleep(0, "still usable")) == "still usable"


def test_run_until_complete_wraps_coroutine_in_task(
    loop: asyncio.AbstractEventLoop, run: Run
) -> None:
    async def which_task() -> object:
        return asyncio.current_task()

    task = run(which_task())
    assert isinstance(task, asyncio.Task)
    assert task.get_loop() is loop


def test_run_until_complete_accepts_future(loop: asyncio.AbstractEventLoop, run: Run) -> None:
    fut = loop.create_future()
    loop.call_soon(fut.set_result, "from future")
    assert run(fut) == "from future"
    # An already-finished future returns at once.
    assert run(fut) == "from future"


class _Awaitable:
    def __await__(self) -> Generator[Any, None, str]:
        yield from asyncio.sleep(0).__await__()
        return "awaited"


def test_run_until_complete_accepts_awaitable(loop: asyncio.AbstractEventLoop, run: Run) -> None:
    assert run(_Awaitable()) == "awaited"


def test_run_until_complete_rejects_non_awaitable(loop: asyncio.AbstractEventLoop) -> None:
    with pytest.raises(TypeError) as excinfo:
        loop.run_until_complete(42)  # type: ignore[arg-type]
    assert str(excinfo.value) == "An asyncio.Future, a coroutine or an awaitable is required"


def test_run_until_complete_rejects_future_of_other_loop(
    loop: asyncio.AbstractEventLoop, loop_factory: LoopFactory
) -> None:
    other = loop_factory()
    try:
        fut = other.create_future()
        with pytest.raises(ValueError, match="different loop") as excinfo:
            loop.run_until_complete(fut)
        assert str(excinfo.value) == (
            "The future belongs to a different loop than the one specified as the loop argument"
        )
    finally:
        other.close()


def test_run_forever_until_stop_and_reuse(loop: asyncio.AbstractEventLoop) -> None:
    calls: list[int] = []
    for round_no in range(3):
        loop.call_soon(calls.append, round_no)
        loop.call_later(0.005, loop.stop)
        loop.run_forever()
        assert not loop.is_running()
    assert calls == [0, 1, 2]


def test_stop_in_coroutine_ends_run_until_complete_early(
    loop: asyncio.AbstractEventLoop,
) -> None:
    async def stopper() -> None:
        loop.stop()
        await asyncio.sleep(10)

    task = loop.create_task(stopper())
    with pytest.raises(RuntimeError) as excinfo:
        loop.run_until_complete(task)
    assert str(excinfo.value) == "Event loop stopped before Future completed."
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        loop.run_until_complete(task)


def test_close_is_idempotent_and_final(loop: asyncio.AbstractEventLoop) -> None:
    loop.close()
    assert loop.is_closed()
    loop.close()
    assert loop.is_closed()
    assert not loop.is_running()


def test_close_discards_pending_callbacks(loop_factory: LoopFactory) -> None:
    ev_loop = loop_factory()
    calls: list[str] = []
    ev_loop.call_soon(calls.append, "soon")
    ev_loop.call_later(0, calls.append, "timer")
    ev_loop.close()
    assert calls == []


def test_time_works_after_close(loop: asyncio.AbstractEventLoop) -> None:
    before = loop.time()
    loop.close()
    assert loop.time() >= before


def test_shutdown_coroutines_on_fresh_loop(loop: asyncio.AbstractEventLoop, run: Run) -> None:
    run(loop.shutdown_asyncgens())
    run(loop.shutdown_default_executor())


def test_loop_runs_in_non_main_thread(loop: asyncio.AbstractEventLoop) -> None:
    started = threading.Event()
    seen: list[bool] = []

    def target() -> None:
        loop.call_soon(started.set)
        loop.run_forever()
        seen.append(loop.is_running())

    thread = threading.Thread(target=target)
    thread.start()
    try:
        assert started.wait(5)
        assert loop.is_running()
        # Running in another thread is still "a loop running" for checks made from here.
        with pytest.raises(RuntimeError) as excinfo:
            loop.run_forever()
        assert str(excinfo.value) == "This event loop is already running"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
    assert seen == [False]
    assert not loop.is_running()


def test_set_event_loop_and_get_event_loop(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    try:
        assert asyncio.get_event_loop() is loop
    finally:
        asyncio.set_event_loop(None)


def test_runner_with_loop_factory(loop_factory: LoopFactory) -> None:
    made: list[asyncio.AbstractEventLoop] = []

    def factory() -> asyncio.AbstractEventLoop:
        made.append(loop_factory())
        return made[-1]

    async def main() -> tuple[bool, bool]:
        running = asyncio.get_running_loop()
        return running is made[0], running.get_debug()

    with asyncio.Runner(loop_factory=factory, debug=True) as runner:
        assert runner.get_loop() is made[0]
        assert runner.run(main()) == (True, True)
        assert runner.run(asyncio.sleep(0, "second run")) == "second run"
    assert made[0].is_closed()


def test_runner_cancels_leftover_tasks_and_closes_asyncgens(loop_factory: LoopFactory) -> None:
    events: list[str] = []

    async def sleeper() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            events.append("task cancelled")
            raise

    async def gen() -> Any:
        try:
            yield 1
            yield 2
        finally:
            events.append("asyncgen closed")

    holder: list[Any] = []

    async def main() -> None:
        asyncio.get_running_loop().create_task(sleeper())
        agen = gen()
        holder.append(agen)
        await agen.__anext__()
        await asyncio.sleep(0)

    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(main())
    assert sorted(events) == ["asyncgen closed", "task cancelled"]


@pytest.mark.skipif(sys.version_info < (3, 12), reason="asyncio.run(loop_factory=) is new in 3.12")
def test_asyncio_run_with_loop_factory(loop_factory: LoopFactory) -> None:
    made: list[asyncio.AbstractEventLoop] = []

    def factory() -> asyncio.AbstractEventLoop:
        made.append(loop_factory())
        return made[-1]

    async def main() -> bool:
        return asyncio.get_running_loop() is made[0]

    assert asyncio.run(main(), loop_factory=factory) is True  # type: ignore[call-arg]
    assert made[0].is_closed()
