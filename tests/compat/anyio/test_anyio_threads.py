"""Worker threads, calls back into the loop, and blocking portals on the treadle backend."""

from __future__ import annotations

import threading
import time

import anyio
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread
import pytest

pytestmark = pytest.mark.anyio


async def test_run_sync_returns_from_a_worker_thread() -> None:
    def work() -> tuple[int, bool]:
        return 6 * 7, threading.current_thread() is threading.main_thread()

    assert await anyio.to_thread.run_sync(work) == (42, False)


async def test_worker_exception_propagates() -> None:
    def fail() -> None:
        raise OSError("from the worker")

    with pytest.raises(OSError, match="from the worker"):
        await anyio.to_thread.run_sync(fail)


async def test_from_thread_run_calls_back_into_the_loop() -> None:
    async def add(a: int, b: int) -> int:
        await anyio.lowlevel.checkpoint()
        return a + b

    def worker() -> int:
        return anyio.from_thread.run(add, 1, 2)

    assert await anyio.to_thread.run_sync(worker) == 3


async def test_many_threads_waiting_on_each_other_do_not_deadlock() -> None:
    # More threads than the loop's default executor would run at once (min(32, cpus + 4)).
    barrier = threading.Barrier(20)

    def meet() -> None:
        barrier.wait(timeout=10)

    async with anyio.create_task_group() as tg:
        for _ in range(20):
            tg.start_soon(anyio.to_thread.run_sync, meet)


async def test_check_cancelled_sees_the_host_scope() -> None:
    started = threading.Event()

    def poll() -> None:
        started.set()
        while True:
            anyio.from_thread.check_cancelled()
            time.sleep(0.001)

    with anyio.CancelScope() as scope:
        async with anyio.create_task_group() as tg:
            tg.start_soon(anyio.to_thread.run_sync, poll)
            await anyio.to_thread.run_sync(started.wait)
            scope.cancel()
    assert scope.cancelled_caught


async def test_abandon_on_cancel_returns_at_once() -> None:
    release = threading.Event()
    with anyio.move_on_after(0.05) as scope:
        await anyio.to_thread.run_sync(release.wait, abandon_on_cancel=True)
    release.set()
    assert scope.cancelled_caught


def test_blocking_portal_on_the_treadle_backend() -> None:
    async def where() -> str:
        import sniffio

        return sniffio.current_async_library()

    with anyio.from_thread.start_blocking_portal(backend="treadle") as portal:
        assert portal.call(where) == "treadle"
        assert portal.call(anyio.sleep, 0) is None
