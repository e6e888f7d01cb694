"""Threads: to_thread.run_sync, from_thread.run / run_sync, CapacityLimiter."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from treadle.structured import (
    CancelScope,
    CapacityLimiter,
    from_thread,
    move_on_after,
    open_nursery,
    to_thread,
    wait_all_tasks_blocked,
)
from treadle.structured._threads import WouldBlock
from treadle.structured._tokens import TokenLedger

Runner = Callable[[Coroutine[Any, Any, Any]], Any]
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id")


def test_run_sync_returns_result_and_sees_contextvars(trun: Runner) -> None:
    async def main() -> tuple[str, bool]:
        request_id.set("r1")

        def work() -> tuple[str, bool]:
            return request_id.get(), threading.current_thread() is not threading.main_thread()

        return await to_thread.run_sync(work)

    assert trun(main()) == ("r1", True)


def test_run_sync_raises_the_threads_exception(trun: Runner) -> None:
    async def main() -> None:
        def fail() -> None:
            raise KeyError("from thread")

        with pytest.raises(KeyError, match="from thread"):
            await to_thread.run_sync(fail)

    trun(main())


def test_not_abandoned_on_cancel_waits_for_thread(trun: Runner) -> None:
    # trio: test_run_in_worker_thread_cancellation (abandon_on_cancel=False ignores the cancel
    # while the thread runs; the next checkpoint raises)
    async def main() -> tuple[str, bool, list[str]]:
        release = threading.Event()
        loop = asyncio.get_running_loop()
        log = []

        def blocking() -> str:
            release.wait(5)
            return "finished"

        with CancelScope() as scope:
            loop.call_later(1, scope.cancel)
            loop.call_later(2, release.set)
            result = await to_thread.run_sync(blocking)
            log.append(f"returned at {loop.time()}")
            await asyncio.sleep(0)
            log.append("not reached")
        return result, scope.cancelled_caught, log

    assert trun(main()) == ("finished", True, ["returned at 2.0"])


def test_run_sync_in_cancelled_scope_raises_before_starting(trun: Runner) -> None:
    async def main() -> list[str]:
        ran = []
        with CancelScope() as scope:
            scope.cancel()
            await to_thread.run_sync(ran.append, "ran")
        return ran

    assert trun(main()) == []


def test_abandon_on_cancel_returns_at_once(trun: Runner) -> None:
    # trio: test_run_in_worker_thread_abandoned
    async def main() -> bool:
        release = threading.Event()
        with move_on_after(1) as scope:
            await to_thread.run_sync(release.wait, 5, abandon_on_cancel=True)
        release.set()
        return scope.cancelled_caught

    assert trun(main())


def test_limiter_bounds_concurrency(trun: Runner) -> None:
    # trio: test_run_in_worker_thread_limiter
    async def main() -> int:
        limiter = CapacityLimiter(2)
        lock = threading.Lock()
        running = 0
        peak = 0
        gate = threading.Event()

        def work() -> None:
            nonlocal running, peak
            with lock:
                running += 1
                peak = max(peak, running)
            gate.wait(5)
            with lock:
                running -= 1

        async with open_nursery() as nursery:
            for _ in range(5):
                nursery.start_soon(lambda: to_thread.run_sync(work, limiter=limiter))
            # Worker threads take the tokens; no event tells the loop when, so poll for it.
            while limiter.borrowed_tokens < 2:  # noqa: ASYNC110
                await asyncio.sleep(0)
            await asyncio.sleep(0)
            assert limiter.available_tokens == 0
            gate.set()
        return peak

    assert trun(main()) == 2


def test_from_thread_run_and_run_sync(trun: Runner) -> None:
    async def main() -> tuple[int, str]:
        loop_thread = threading.get_ident()

        async def double(x: int) -> int:
            await asyncio.sleep(0)
            return x * 2

        def which_thread() -> str:
            return "loop" if threading.get_ident() == loop_thread else "other"

        def in_worker() -> tuple[int, str]:
            return from_thread.run(double, 21), from_thread.run_sync(which_thread)

        return await to_thread.run_sync(in_worker)

    assert trun(main()) == (42, "loop")


def test_from_thread_outside_worker_raises(trun: Runner) -> None:
    with pytest.raises(RuntimeError, match="not started by"):
        from_thread.run_sync(print)

    async def main() -> None:
        with pytest.raises(RuntimeError, match="await the function instead"):
            from_thread.run_sync(print)

    trun(main())


def test_capacity_limiter_api(trun: Runner) -> None:
    async def main() -> None:
        limiter = CapacityLimiter(1)
        assert (limiter.total_tokens, limiter.available_tokens) == (1, 1)
        limiter.acquire_nowait()
        with pytest.raises(RuntimeError, match="already holds"):
            limiter.acquire_nowait()
        with pytest.raises(WouldBlock):
            limiter.acquire_on_behalf_of_nowait("other")
        waiter = asyncio.create_task(limiter.acquire_on_behalf_of("other"))
        await wait_all_tasks_blocked()
        limiter.release()
        await waiter
        assert limiter.borrowed_tokens == 1
        limiter.release_on_behalf_of("other")
        with pytest.raises(RuntimeError, match="isn't holding"):
            limiter.release()
        limiter.total_tokens = 3
        async with limiter:
            assert limiter.borrowed_tokens == 1
        with pytest.raises(ValueError, match="total_tokens must be >= 1"):
            limiter.total_tokens = 0
        with pytest.raises(TypeError):
            limiter.total_tokens = 1.5

    trun(main())


def test_limiter_waiter_cancelled_leaves_queue(trun: Runner) -> None:
    async def main() -> int:
        limiter = CapacityLimiter(1)
        limiter.acquire_on_behalf_of_nowait("holder")
        with move_on_after(1):
            await limiter.acquire()
        limiter.release_on_behalf_of("holder")
        return limiter.borrowed_tokens

    assert trun(main()) == 0


def test_release_passes_over_a_waiter_cancelled_before_its_cleanup(trun: Runner) -> None:
    # The waiter's future is cancelled, but its task has not run yet when the token comes free:
    # the token goes to the next waiter (here: nobody), and release() does not fail.
    async def main() -> tuple[bool, int]:
        limiter = CapacityLimiter(1)
        await limiter.acquire()
        waiting = asyncio.get_running_loop().create_task(limiter.acquire())
        await wait_all_tasks_blocked()
        waiting.cancel()
        limiter.release()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        return waiting.cancelled(), limiter.borrowed_tokens

    assert trun(main()) == (True, 0)


def test_token_ledger_hands_tokens_in_arrival_order(tloop: asyncio.AbstractEventLoop) -> None:
    ledger = TokenLedger()
    ledger.total = 1
    assert ledger.available()
    ledger.borrowers.add("a")
    first, second, third = (tloop.create_future() for _ in range(3))
    ledger.wait("b", first)
    ledger.wait("c", second)
    ledger.wait("d", third)
    assert not ledger.available()
    second.cancel()  # "c" was cancelled and has not cleaned up yet
    assert ledger.release("a")
    assert (first.done(), ledger.borrowers) == (True, {"b"})
    ledger.abandon("c", second)  # its cleanup: nothing to give back
    assert ledger.release("b")
    assert ledger.borrowers == {"d"}
    assert not ledger.release("b")
    # A waiter handed a token just as it was cancelled gives the token back on abandon().
    ledger.total = 2
    late = tloop.create_future()
    ledger.wait("e", late)
    ledger.hand_over()
    assert late.done()
    ledger.abandon("e", late)
    assert ledger.borrowers == {"d"}
