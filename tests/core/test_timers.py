"""call_later / call_at: when timers fire, in what order, cancellation, and loop.time().

Each body runs on asyncio's loop (the oracle) and on treadle through the ``loop`` fixture.
Real sleeps here are tens of milliseconds; assertions are about order and lower bounds, never about
how fast a loop is.
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import itertools
import math
import time
import weakref
from collections.abc import Callable
from typing import Any

import pytest

# Timers may fire up to one clock tick early (asyncio treats `when < now + resolution` as due).
SLACK = time.get_clock_info("monotonic").resolution + 1e-3

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="unset")


def test_call_later_returns_timer_handle_with_when(loop: asyncio.AbstractEventLoop) -> None:
    before = loop.time()
    handle = loop.call_later(10, lambda: None)
    after = loop.time()
    assert isinstance(handle, asyncio.TimerHandle)
    assert before + 10 <= handle.when() <= after + 10
    assert not handle.cancelled()
    handle.cancel()


def test_call_at_when_is_exactly_the_given_time(loop: asyncio.AbstractEventLoop) -> None:
    when = loop.time() + 12.5
    handle = loop.call_at(when, lambda: None)
    assert isinstance(handle, asyncio.TimerHandle)
    assert handle.when() == when
    handle.cancel()


def test_call_later_fires_no_earlier_than_delay(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any]
) -> None:
    fired: list[float] = []
    start = loop.time()
    loop.call_later(0.05, lambda: fired.append(loop.time()))
    run(asyncio.sleep(0.1))
    assert len(fired) == 1
    assert fired[0] - start >= 0.05 - SLACK


def test_call_at_fires_no_earlier_than_when(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any]
) -> None:
    fired: list[float] = []
    when = loop.time() + 0.03
    loop.call_at(when, lambda: fired.append(loop.time()))
    run(asyncio.sleep(0.06))
    assert len(fired) == 1
    assert fired[0] >= when - SLACK


def test_timers_fire_in_deadline_order(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any]
) -> None:
    order: list[float] = []
    for delay in (0.03, 0.01, 0.04, 0.02, 0.0):
        loop.call_later(delay, order.append, delay)
    run(asyncio.sleep(0.08))
    assert order == [0.0, 0.01, 0.02, 0.03, 0.04]


def test_call_at_timers_fire_in_when_order(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any]
) -> None:
    base = loop.time()
    order: list[int] = []
    for offset in (5, 1, 4, 2, 3):
        loop.call_at(base + offset / 1000, order.append, offset)
    run(asyncio.sleep(0.03))
    assert order == [1, 2, 3, 4, 5]


def test_equal_deadline_timers_all_run_in_one_iteration(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any]
) -> None:
    # asyncio docs, loop.call_later: "If two callbacks are scheduled for exactly the same time, it
    # is undefined which will be called first." Only that they all run, in the same iteration, is
    # shared ground. Each timer schedules a marker with call_soon: markers run one iteration later,
    # so if every timer ran in one iteration no marker appears before the last timer.
    events: list[str] = []
    when = loop.time() + 0.01
    for i in range(20):

        def fire(i: int = i) -> None:
            events.append(f"timer-{i}")
            loop.call_soon(events.append, "marker")

        loop.call_at(when, fire)
    run(asyncio.sleep(0.05))
    timers = [e for e in events if e.startswith("timer-")]
    assert sorted(timers) == sorted(f"timer-{i}" for i in range(20))
    assert events[:20] == timers
    assert events[20:] == ["marker"] * 20


def test_equal_deadline_timers_fire_fifo_on_treadle(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any], is_oracle: bool
) -> None:
    if is_oracle:
        pytest.skip("treadle-only: asyncio leaves same-deadline timers unordered")
    order: list[int] = []
    when = loop.time() + 0.01
    for i in range(50):
        loop.call_at(when, order.append, i)
    run(asyncio.sleep(0.03))
    assert order == list(range(50))


def test_cancelled_timer_is_not_run(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any]
) -> None:
    calls: list[str] = []
    handle = loop.call_later(0.01, calls.append, "cancelled")
    loop.call_later(0.01, calls.append, "kept")
    handle.cancel()
    assert handle.cancelled()
    run(asyncio.sleep(0.04))
    assert calls == ["kept"]


def test_timer_cancelled_by_earlier_timer_in_same_iteration_is_not_run(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any]
) -> None:
    calls: list[str] = []
    victim: list[asyncio.TimerHandle] = []

    def killer() -> None:
        calls.append("killer")
        victim[0].cancel()

    when = loop.time() + 0.01
    loop.call_at(when, killer)
    victim.append(loop.call_at(when + 1e-9, calls.append, "victim"))
    # Both are due by the time the loop wakes; the second must still see the cancellation.
    run(asyncio.sleep(0.05))
    assert calls == ["killer"]


def test_cancel_timer_after_it_fired_is_harmless(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any]
) -> None:
    calls: list[int] = []
    handle = loop.call_later(0, calls.append, 1)
    run(asyncio.sleep(0.01))
    handle.cancel()
    assert handle.cancelled()
    assert calls == [1]


def test_zero_and_negative_delays_run_on_next_iteration(loop: asyncio.AbstractEventLoop) -> None:
    calls: list[str] = []
    loop.call_later(0, calls.append, "zero")
    loop.call_later(-5, calls.append, "negative")
    loop.call_at(loop.time() - 100, calls.append, "past")
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert sorted(calls) == ["negative", "past", "zero"]
    # Earlier deadline first, even in the past.
    assert calls.index("past") < calls.index("negative") < calls.index("zero")


def test_expired_timer_runs_after_already_ready_callbacks(loop: asyncio.AbstractEventLoop) -> None:
    # One iteration: poll, move expired timers behind what is already ready, run them all.
    order: list[str] = []
    loop.call_later(0, order.append, "timer")
    loop.call_soon(order.append, "soon")
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert order == ["soon", "timer"]


def test_infinite_delay_never_fires_and_does_not_block_others(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any]
) -> None:
    calls: list[str] = []
    forever = loop.call_later(math.inf, calls.append, "inf")
    at_inf = loop.call_at(math.inf, calls.append, "at-inf")
    loop.call_later(0.01, calls.append, "soon")
    run(asyncio.sleep(0.03))
    assert calls == ["soon"]
    assert forever.when() == math.inf
    forever.cancel()
    at_inf.cancel()


def test_timer_callback_args_and_context(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any]
) -> None:
    ctx = contextvars.copy_context()
    ctx.run(request_id.set, "timer-ctx")
    seen: list[tuple[str, int, str]] = []

    def record(a: str, b: int) -> None:
        seen.append((a, b, request_id.get()))

    loop.call_later(0, record, "x", 2, context=ctx)
    loop.call_at(loop.time(), record, "y", 3)
    run(asyncio.sleep(0.01))
    assert sorted(seen) == [("x", 2, "timer-ctx"), ("y", 3, "unset")]


def test_timer_copies_context_at_schedule_time(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any]
) -> None:
    seen: list[str] = []

    def schedule() -> None:
        request_id.set("scheduled")
        loop.call_later(0, lambda: seen.append(request_id.get()))
        request_id.set("later")

    contextvars.copy_context().run(schedule)
    run(asyncio.sleep(0.01))
    assert seen == ["scheduled"]


def test_loop_time_is_monotonic_and_advances(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any]
) -> None:
    samples = [loop.time() for _ in range(1000)]
    assert all(b >= a for a, b in itertools.pairwise(samples))
    assert isinstance(samples[0], float)
    start = loop.time()
    run(asyncio.sleep(0.05))
    assert loop.time() - start >= 0.05 - SLACK


def test_asyncio_sleep_waits_at_least_delay(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any]
) -> None:
    async def main() -> float:
        start = loop.time()
        await asyncio.sleep(0.03)
        return loop.time() - start

    assert run(main()) >= 0.03 - SLACK


def test_sleep_zero_yields_one_iteration(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any]
) -> None:
    order: list[str] = []

    async def main() -> None:
        loop.call_soon(order.append, "callback")
        await asyncio.sleep(0)
        order.append("after sleep(0)")

    run(main())
    assert order == ["callback", "after sleep(0)"]


def test_many_cancelled_timers_do_not_accumulate(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any]
) -> None:
    # A cancelled timer must be dropped (or compacted away) by the loop, not kept until its
    # deadline: asyncio compacts its heap once cancelled timers are the majority. 200k
    # call_later+cancel pairs an hour out would hold ~40 MB if they stayed in the heap. Weak
    # references to a sample of the handles show whether the loop still holds them; that is
    # exact where a tracemalloc peak is noisy, and ten times faster.
    def noop() -> None:
        pass

    sample: list[weakref.ref[asyncio.TimerHandle]] = []

    async def churn() -> None:
        for i in range(200_000):
            handle = loop.call_later(3600, noop)
            handle.cancel()
            if i % 100 == 0:
                sample.append(weakref.ref(handle))
            if i % 1000 == 999:
                await asyncio.sleep(0)
        await asyncio.sleep(0)

    run(churn())
    gc.collect()
    alive = sum(ref() is not None for ref in sample)
    # asyncio holds none at this point; allow the last batch in case of a lazier compaction.
    assert alive <= 10, f"{alive} of {len(sample)} sampled cancelled timers still referenced"
