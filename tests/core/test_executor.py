"""run_in_executor, the default executor and shutdown_default_executor, with real threads.

Each body runs on asyncio's loop (the oracle) and on treadle through the ``loop`` fixture.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest


def _thread_name() -> str:
    return threading.current_thread().name


def test_run_in_executor_default_runs_in_worker_thread(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any]
) -> None:
    def work(a: int, b: int) -> tuple[int, int]:
        return a + b, threading.get_ident()

    fut = loop.run_in_executor(None, work, 2, 3)
    assert isinstance(fut, asyncio.Future)
    total, ident = run(fut)
    assert total == 5
    assert ident != threading.get_ident()


def test_run_in_executor_propagates_exception(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any]
) -> None:
    def fail() -> None:
        raise KeyError("from worker")

    with pytest.raises(KeyError, match="from worker"):
        run(loop.run_in_executor(None, fail))


def test_run_in_executor_with_given_executor(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any]
) -> None:
    with concurrent.futures.ThreadPoolExecutor(thread_name_prefix="given") as pool:
        name = run(loop.run_in_executor(pool, _thread_name))
    assert name.startswith("given")


def test_set_default_executor_is_used_for_none(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any]
) -> None:
    pool = concurrent.futures.ThreadPoolExecutor(thread_name_prefix="custom-default")
    loop.set_default_executor(pool)
    try:
        assert run(loop.run_in_executor(None, _thread_name)).startswith("custom-default")
    finally:
        run(loop.shutdown_default_executor())
    # shutdown_default_executor shut down the executor we gave it.
    with pytest.raises(RuntimeError, match="cannot schedule new futures after shutdown"):
        pool.submit(_thread_name)


def test_set_default_executor_rejects_non_thread_pool(loop: asyncio.AbstractEventLoop) -> None:
    for bad in (object(), concurrent.futures.Executor(), "ThreadPoolExecutor"):
        with pytest.raises(TypeError) as excinfo:
            loop.set_default_executor(bad)  # type: ignore[arg-type]
        assert str(excinfo.value) == "executor must be ThreadPoolExecutor instance"


def test_run_in_executor_after_shutdown_default_executor_raises(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any]
) -> None:
    run(loop.run_in_executor(None, _thread_name))  # create the default executor
    run(loop.shutdown_default_executor())
    with pytest.raises(RuntimeError) as excinfo:
        loop.run_in_executor(None, _thread_name)
    assert str(excinfo.value) == "Executor shutdown has been called"


def test_shutdown_without_default_executor_still_forbids_new_work(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any]
) -> None:
    run(loop.shutdown_default_executor())
    with pytest.raises(RuntimeError) as excinfo:
        loop.run_in_executor(None, _thread_name)
    assert str(excinfo.value) == "Executor shutdown has been called"


def test_given_executor_still_usable_after_default_shutdown(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any]
) -> None:
    run(loop.shutdown_default_executor())
    with concurrent.futures.ThreadPoolExecutor(thread_name_prefix="still") as pool:
        assert run(loop.run_in_executor(pool, _thread_name)).startswith("still")


def test_shutdown_default_executor_waits_for_running_work(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any]
) -> None:
    finished: list[bool] = []

    def slow() -> None:
        time.sleep(0.1)
        finished.append(True)

    async def main() -> None:
        fut = loop.run_in_executor(None, slow)
        await asyncio.sleep(0.01)  # let the worker pick it up
        await loop.shutdown_default_executor()
        assert finished == [True]
        await fut

    run(main())


def test_shutdown_default_executor_twice_is_fine(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any]
) -> None:
    run(loop.run_in_executor(None, _thread_name))
    run(loop.shutdown_default_executor())
    run(loop.shutdown_default_executor())


def test_shutdown_default_executor_keeps_loop_responsive(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any]
) -> None:
    # The join happens off the loop thread: timers keep firing while a worker finishes.
    ticks: list[float] = []

    def tick() -> None:
        ticks.append(loop.time())
        loop.call_later(0.01, tick)

    async def main() -> None:
        fut = loop.run_in_executor(None, time.sleep, 0.15)
        await asyncio.sleep(0.01)
        loop.call_soon(tick)
        await loop.shutdown_default_executor()
        await fut

    run(main())
    assert len(ticks) >= 3


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="3.12 added the timeout parameter")
def test_shutdown_default_executor_has_no_timeout_before_312(
    loop: asyncio.AbstractEventLoop,
) -> None:
    outcome: list[object] = []
    try:
        outcome.append(loop.shutdown_default_executor(timeout=1))  # type: ignore[call-arg]
    except TypeError as exc:
        outcome.append(exc)
    if asyncio.iscoroutine(outcome[0]):
        outcome[0].close()
        pytest.fail("shutdown_default_executor(timeout=...) accepted on Python 3.11")
    assert isinstance(outcome[0], TypeError)
    assert "unexpected keyword argument 'timeout'" in str(outcome[0])


@pytest.mark.skipif(sys.version_info < (3, 12), reason="timeout parameter is new in 3.12")
def test_shutdown_default_executor_long_timeout_waits_without_warning(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any]
) -> None:
    async def main() -> None:
        fut = loop.run_in_executor(None, time.sleep, 0.05)
        await asyncio.sleep(0.01)
        await loop.shutdown_default_executor(timeout=10)  # type: ignore[call-arg]
        assert fut.done()

    run(main())


@pytest.mark.skipif(
    sys.version_info < (3, 13),
    reason="3.12 awaits the workers before applying the timeout, so it never fires there",
)
def test_shutdown_default_executor_timeout_warns_and_returns(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any]
) -> None:
    release = threading.Event()
    job_done = threading.Event()

    def blocked() -> None:
        release.wait(10)
        job_done.set()

    async def main() -> None:
        loop.run_in_executor(None, blocked)
        await asyncio.sleep(0.01)
        start = time.monotonic()
        with pytest.warns(RuntimeWarning) as record:
            await loop.shutdown_default_executor(timeout=0.1)  # type: ignore[call-arg]
        assert time.monotonic() - start < 5
        assert [str(w.message) for w in record] == [
            "The executor did not finishing joining its threads within 0.1 seconds."
        ]

    try:
        run(main())
    finally:
        release.set()
        assert job_done.wait(5)
    run(asyncio.sleep(0.05))  # let the shutdown thread report back while the loop is open


def test_close_shuts_down_default_executor_without_waiting(
    loop_factory: Callable[[], asyncio.AbstractEventLoop],
) -> None:
    release = threading.Event()
    ev_loop = loop_factory()
    try:
        ev_loop.run_in_executor(None, release.wait, 10)
        start = time.monotonic()
        ev_loop.close()
        assert time.monotonic() - start < 5
    finally:
        release.set()
        ev_loop.close()


@pytest.mark.parametrize("debug", [False, True])
def test_run_in_executor_coroutine_function_in_debug_mode(
    loop: asyncio.AbstractEventLoop, debug: bool
) -> None:
    async def coro_fn() -> None:
        pass

    loop.set_debug(debug)
    if debug:
        with pytest.raises(TypeError) as excinfo:
            loop.run_in_executor(None, coro_fn)
        assert str(excinfo.value) == "coroutines cannot be used with run_in_executor()"
    else:
        # Not checked outside debug mode: the worker just calls it; close what it returns.
        coro = loop.run_until_complete(loop.run_in_executor(None, coro_fn))
        coro.close()
