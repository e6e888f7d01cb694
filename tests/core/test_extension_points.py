"""treadle's own additions to the loop: clocks, idle callbacks, I/O wait hooks, statistics.

These are not asyncio API, so they run on treadle loops only (every poller).
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest

from treadle.core import EventLoop, available_pollers, new_event_loop


@pytest.fixture(params=available_pollers())
def tloop(request: pytest.FixtureRequest) -> Iterator[EventLoop]:
    loop = new_event_loop(poller=request.param)
    yield loop
    loop.close()


class SteppedClock:
    """A clock that only moves when told to, and never sleeps for real."""

    def __init__(self) -> None:
        self.now = 1000.0

    def start_clock(self) -> None:
        pass

    def current_time(self) -> float:
        return self.now

    def deadline_to_sleep_time(self, deadline: float) -> float:
        return 0.0 if deadline <= self.now else 3600.0


def test_loop_time_comes_from_the_clock() -> None:
    clock = SteppedClock()
    loop = new_event_loop(clock=clock)
    try:
        assert loop.time() == 1000.0
        assert loop.clock is clock
        clock.now = 1005.0
        assert loop.time() == 1005.0
    finally:
        loop.close()


def test_idle_callback_can_drive_a_virtual_clock() -> None:
    # An autojumping clock in miniature: when the loop is idle, jump to the next deadline.
    clock = SteppedClock()
    loop = new_event_loop(clock=clock)

    def jump() -> None:
        clock.now += 60.0
        loop.call_when_idle(0, jump)

    async def main() -> float:
        await asyncio.sleep(3600)  # an hour of virtual time
        return loop.time()

    try:
        loop.call_when_idle(0, jump)
        assert loop.run_until_complete(main()) >= 1000.0 + 3600
    finally:
        loop.close()


def test_idle_callback_waits_for_ready_callbacks(tloop: EventLoop) -> None:
    order: list[str] = []

    async def busy() -> None:
        for _ in range(5):
            order.append("step")
            await asyncio.sleep(0)

    tloop.call_when_idle(0, order.append, "idle")
    tloop.run_until_complete(busy())
    tloop.run_until_complete(asyncio.sleep(0.01))
    assert order == ["step"] * 5 + ["idle"]


def test_cancelled_idle_callback_does_not_run(tloop: EventLoop) -> None:
    ran: list[int] = []
    tloop.call_when_idle(0, ran.append, 1).cancel()
    tloop.run_until_complete(asyncio.sleep(0.01))
    assert ran == []


def test_io_wait_hooks_bracket_each_poll(tloop: EventLoop) -> None:
    calls: list[str] = []

    class Hook:
        def before_io_wait(self, timeout: float) -> None:
            calls.append("before")

        def after_io_wait(self, timeout: float) -> None:
            calls.append("after")

    hook = Hook()
    tloop.add_io_wait_hook(hook)
    tloop.run_until_complete(asyncio.sleep(0))
    tloop.remove_io_wait_hook(hook)
    assert calls
    assert calls[::2] == ["before"] * (len(calls) // 2)
    assert calls[1::2] == ["after"] * (len(calls) // 2)


def test_cancelled_timers_are_purged_from_the_heap(tloop: EventLoop) -> None:
    async def churn() -> None:
        for i in range(20_000):
            tloop.call_later(100 + i, lambda: None).cancel()
            if i % 1000 == 0:
                await asyncio.sleep(0)
        await asyncio.sleep(0)

    tloop.run_until_complete(churn())
    # The heap holds at most the cancelled timers of the last stretch, not all 20k.
    assert len(tloop._scheduler.timers) < 2_500


def test_equal_deadlines_fire_in_scheduling_order(tloop: EventLoop) -> None:
    fired: list[int] = []
    when = tloop.time() + 0.01
    for i in range(50):
        tloop.call_at(when, fired.append, i)
    tloop.run_until_complete(asyncio.sleep(0.02))
    assert fired == list(range(50))


def test_registry_statistics_count_watched_fds(tloop: EventLoop) -> None:
    import socket

    a, b = socket.socketpair()
    try:
        before = tloop._registry.statistics()
        tloop.add_reader(a, lambda: None)
        tloop.add_writer(a, lambda: None)
        during = tloop._registry.statistics()
        assert during.fds == before.fds + 1
        assert (during.readers, during.writers) == (before.readers + 1, before.writers + 1)
        tloop.remove_reader(a)
        tloop.remove_writer(a)
        assert tloop._registry.statistics() == before
    finally:
        a.close()
        b.close()
        gc.collect()
