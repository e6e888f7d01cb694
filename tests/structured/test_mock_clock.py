"""MockClock: virtual time for loop.time(), asyncio timers, and treadle deadlines."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from treadle.core import new_event_loop
from treadle.structured import MockClock, current_time, sleep, wait_all_tasks_blocked

Runner = Callable[[Coroutine[Any, Any, Any]], Any]


def test_autojump_makes_long_asyncio_sleeps_instant(trun: Runner) -> None:
    async def main() -> float:
        await asyncio.sleep(3600)
        async with asyncio.timeout(10):
            await asyncio.sleep(5)
        return asyncio.get_running_loop().time()

    started = time.perf_counter()
    assert trun(main()) == 3605.0
    assert time.perf_counter() - started < 5  # virtual, not real, hours


def test_call_later_runs_in_virtual_order(trun: Runner) -> None:
    async def main() -> list[tuple[str, float]]:
        loop = asyncio.get_running_loop()
        fired: list[tuple[str, float]] = []
        done = loop.create_future()
        loop.call_later(2, lambda: fired.append(("b", loop.time())))
        loop.call_later(1, lambda: fired.append(("a", loop.time())))
        loop.call_later(3, done.set_result, None)
        await done
        return fired

    assert trun(main()) == [("a", 1.0), ("b", 2.0)]


def test_rate_zero_without_autojump_moves_only_by_jump() -> None:
    clock = MockClock()
    loop = new_event_loop(clock=clock)

    async def main() -> float:
        sleeper = asyncio.create_task(sleep(10))
        await wait_all_tasks_blocked()
        assert current_time() == 0.0
        clock.jump(10)
        await sleeper
        return current_time()

    try:
        assert loop.run_until_complete(main()) == 10.0
    finally:
        loop.close()


def test_jump_backwards_is_refused() -> None:
    with pytest.raises(ValueError, match="backwards"):
        MockClock().jump(-1)


def test_rate_runs_virtual_time_faster() -> None:
    clock = MockClock(rate=1000.0)
    before = clock.current_time()
    time.sleep(0.01)
    assert clock.current_time() - before >= 5.0


def test_rate_and_threshold_validation() -> None:
    with pytest.raises(ValueError, match="rate must be >= 0"):
        MockClock(rate=-1)
    with pytest.raises(ValueError, match="autojump_threshold must be >= 0"):
        MockClock(autojump_threshold=-1)
    clock = MockClock(autojump_threshold=math.inf)
    assert "MockClock" in repr(clock)


def test_changing_rate_keeps_time_continuous() -> None:
    clock = MockClock()
    clock.jump(5)
    clock.rate = 2.0
    assert clock.current_time() >= 5.0
    clock.rate = 0.0
    frozen = clock.current_time()
    assert clock.current_time() == frozen


def test_autojump_does_not_jump_without_timers(clock: MockClock) -> None:
    loop = new_event_loop(clock=clock)

    async def main() -> float:
        handle = asyncio.get_running_loop().call_later(100, lambda: None)
        handle.cancel()  # a cancelled timer is nowhere to jump to
        await wait_all_tasks_blocked()
        await asyncio.sleep(0)
        return current_time()

    try:
        assert loop.run_until_complete(main()) == 0.0
    finally:
        loop.close()


def test_autojump_clock_reused_by_a_second_loop_still_jumps() -> None:
    # The first run ends while its autojump waiter is armed; the second loop must arm its own.
    clock = MockClock(autojump_threshold=0)

    async def main() -> float:
        await asyncio.sleep(10)
        return asyncio.get_running_loop().time()

    for expected in (10.0, 20.0):
        with asyncio.Runner(loop_factory=lambda: new_event_loop(clock=clock)) as runner:
            assert runner.run(main()) == expected
