"""call_soon_threadsafe and friends: waking a blocked loop from other threads, real threads only.

Each body runs on asyncio's loop (the oracle) and on treadle through the ``loop`` fixture.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import threading
import time
from collections.abc import Callable
from typing import Any

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="unset")


def _in_thread_after(delay: float, fn: Callable[[], object]) -> threading.Thread:
    def body() -> None:
        time.sleep(delay)
        fn()

    thread = threading.Thread(target=body)
    thread.start()
    return thread


def test_threadsafe_call_wakes_loop_blocked_on_long_timer(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any]
) -> None:
    # The loop sleeps in its poller until a 30 s timer; the thread's call must wake it at once.
    # This checks that a wake-up happens, not how fast: 5 s is far below the timer.
    far_timer = loop.call_later(30, lambda: None)
    done = loop.create_future()
    thread = _in_thread_after(0.05, lambda: loop.call_soon_threadsafe(done.set_result, "woken"))
    start = time.monotonic()
    try:
        assert run(done) == "woken"
    finally:
        thread.join()
        far_timer.cancel()
    assert time.monotonic() - start < 5


def test_threadsafe_call_wakes_loop_with_nothing_scheduled(
    loop: asyncio.AbstractEventLoop,
) -> None:
    # No timer at all: the poller blocks with no timeout until something wakes it.
    thread = _in_thread_after(0.05, lambda: loop.call_soon_threadsafe(loop.stop))
    start = time.monotonic()
    try:
        loop.run_forever()
    finally:
        thread.join()
    assert time.monotonic() - start < 5


def test_threadsafe_stop_from_another_thread(loop: asyncio.AbstractEventLoop) -> None:
    ticks: list[int] = []

    def tick() -> None:
        ticks.append(1)
        loop.call_later(0.005, tick)

    loop.call_soon(tick)
    thread = _in_thread_after(0.05, lambda: loop.call_soon_threadsafe(loop.stop))
    try:
        loop.run_forever()
    finally:
        thread.join()
    assert not loop.is_running()
    assert ticks


def test_threadsafe_calls_from_one_thread_keep_order(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any]
) -> None:
    order: list[int] = []
    done = loop.create_future()

    def producer() -> None:
        for i in range(500):
            loop.call_soon_threadsafe(order.append, i)
        loop.call_soon_threadsafe(done.set_result, None)

    thread = threading.Thread(target=producer)
    thread.start()
    try:
        run(done)
    finally:
        thread.join()
    assert order == list(range(500))


def test_threadsafe_calls_from_many_threads_each_run_once(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any]
) -> None:
    seen: list[tuple[int, int]] = []
    n_threads, per_thread = 4, 500
    remaining = n_threads * per_thread
    done = loop.create_future()

    def record(item: tuple[int, int]) -> None:
        nonlocal remaining
        seen.append(item)
        remaining -= 1
        if remaining == 0:
            done.set_result(None)

    def producer(tid: int) -> None:
        for i in range(per_thread):
            loop.call_soon_threadsafe(record, (tid, i))

    threads = [threading.Thread(target=producer, args=(t,)) for t in range(n_threads)]
    for thread in threads:
        thread.start()
    try:
        run(asyncio.wait_for(done, 10))
    finally:
        for thread in threads:
            thread.join()
    assert sorted(seen) == [(t, i) for t in range(n_threads) for i in range(per_thread)]
    for tid in range(n_threads):
        # Each producer's own calls stay in its order.
        assert [i for t, i in seen if t == tid] == list(range(per_thread))


def test_threadsafe_returns_cancellable_handle(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any]
) -> None:
    calls: list[str] = []
    handle = loop.call_soon_threadsafe(calls.append, "cancelled")
    assert isinstance(handle, asyncio.Handle)
    handle.cancel()
    loop.call_soon_threadsafe(calls.append, "kept")
    run(asyncio.sleep(0))
    assert calls == ["kept"]


def test_threadsafe_context_argument(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any]
) -> None:
    ctx = contextvars.copy_context()
    ctx.run(request_id.set, "from-thread")
    seen: list[str] = []
    done = loop.create_future()

    def record() -> None:
        seen.append(request_id.get())
        done.set_result(None)

    thread = _in_thread_after(0, lambda: loop.call_soon_threadsafe(record, context=ctx))
    try:
        run(done)
    finally:
        thread.join()
    assert seen == ["from-thread"]


def test_threadsafe_callback_runs_on_loop_thread(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any]
) -> None:
    ran_on: list[int] = []
    done = loop.create_future()

    def record() -> None:
        ran_on.append(threading.get_ident())
        done.set_result(None)

    thread = _in_thread_after(0, lambda: loop.call_soon_threadsafe(record))
    try:
        run(done)
    finally:
        thread.join()
    assert ran_on == [threading.get_ident()]


def test_run_coroutine_threadsafe_from_another_thread(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any]
) -> None:
    results: list[object] = []

    async def add(a: int, b: int) -> int:
        await asyncio.sleep(0.01)
        return a + b

    async def fail() -> None:
        raise LookupError("nope")

    def client() -> None:
        results.append(asyncio.run_coroutine_threadsafe(add(2, 3), loop).result(timeout=5))
        try:
            asyncio.run_coroutine_threadsafe(fail(), loop).result(timeout=5)
        except LookupError as exc:
            results.append(exc)
        loop.call_soon_threadsafe(loop.stop)

    thread = threading.Thread(target=client)
    thread.start()
    try:
        loop.run_forever()
    finally:
        thread.join()
    assert results[0] == 5
    assert isinstance(results[1], LookupError)


def test_to_thread_runs_in_worker_with_context(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any]
) -> None:
    def work(x: int) -> tuple[int, str, bool]:
        on_main = threading.get_ident() == threading.main_thread().ident
        return x * 2, request_id.get(), on_main

    async def main() -> tuple[int, str, bool]:
        request_id.set("propagated")
        return await asyncio.to_thread(work, 21)

    assert run(main()) == (42, "propagated", False)


def test_wrap_future_from_thread_pool_wakes_loop(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any]
) -> None:
    far_timer = loop.call_later(30, lambda: None)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        cf = pool.submit(time.sleep, 0.05)
        start = time.monotonic()
        run(asyncio.wrap_future(cf, loop=loop))
    far_timer.cancel()
    assert time.monotonic() - start < 5
