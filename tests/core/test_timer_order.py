"""treadle's timer order: by deadline, and first-in, first-out among equal deadlines.

asyncio leaves the order of equal deadlines unspecified, so these run on treadle only (the oracle
has nothing to compare). The heap holds the handles and ranks only the timers that may tie
(core/_scheduler.py), so the cases mix deadlines that rise, fall and repeat, cancel some, and
schedule more from inside callbacks, in debug mode too (where the handles are asyncio's own).
A virtual clock makes deadlines exact and the test instant.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from treadle.core import EventLoop, new_event_loop
from treadle.testing import MockClock

# (deadline offset, cancelled) per timer, scheduled in list order.
_timers = st.lists(st.tuples(st.integers(0, 4), st.booleans()), max_size=40)


@pytest.fixture(params=[False, True], ids=["plain", "debug"])
def debug(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@contextlib.contextmanager
def _virtual_loop(debug: bool) -> Iterator[EventLoop]:
    ev_loop = new_event_loop(clock=MockClock(autojump_threshold=0))
    ev_loop.set_debug(debug)
    try:
        yield ev_loop
    finally:
        ev_loop.close()


def _expected(plan: list[tuple[int, bool]]) -> list[int]:
    live = [(offset, index) for index, (offset, cancelled) in enumerate(plan) if not cancelled]
    return [index for _, index in sorted(live)]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(plan=_timers)
def test_timers_fire_by_deadline_then_scheduling_order(
    debug: bool, plan: list[tuple[int, bool]]
) -> None:
    with _virtual_loop(debug) as vloop:
        fired = _run_plan(vloop, plan)
    assert fired == _expected(plan)


def _run_plan(vloop: EventLoop, plan: list[tuple[int, bool]]) -> list[int]:
    fired: list[int] = []
    base = vloop.time()
    handles = [vloop.call_at(base + offset, fired.append, i) for i, (offset, _) in enumerate(plan)]
    for handle, (_, cancelled) in zip(handles, plan, strict=True):
        if cancelled:
            handle.cancel()
    vloop.run_until_complete(asyncio.sleep(10))
    return fired


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(first=_timers, second=_timers)
def test_timers_scheduled_by_a_timer_keep_the_order(
    debug: bool, first: list[tuple[int, bool]], second: list[tuple[int, bool]]
) -> None:
    with _virtual_loop(debug) as vloop:
        fired = _run_two_batches(vloop, first, second)
    # The scheduling timer runs at base + 2, after the "a" timers due then (scheduled earlier);
    # a "b" timer whose deadline has passed runs in the next iteration, with the other "b" timers
    # due by then, by deadline. From then on ties go to "a" (scheduled before every "b").
    keyed = [((offset, 0, offset, i), f"a{i}") for i, (offset, _) in enumerate(first)]
    keyed += [
        ((max(1 + offset, 2), 1, 1 + offset, i), f"b{i}") for i, (offset, _) in enumerate(second)
    ]
    live = {f"a{i}" for i, (_, cancelled) in enumerate(first) if not cancelled}
    live |= {f"b{i}" for i, (_, cancelled) in enumerate(second) if not cancelled}
    assert fired == [name for _, name in sorted(keyed) if name in live]


def _run_two_batches(
    vloop: EventLoop, first: list[tuple[int, bool]], second: list[tuple[int, bool]]
) -> list[str]:
    # The second batch is scheduled when the heap holds part of the first one (or nothing): its
    # deadlines tie with pending timers, with ones that already fired, or with nothing.
    fired: list[str] = []
    base = vloop.time()

    def schedule(plan: list[tuple[int, bool]], tag: str, start: float) -> None:
        for i, (offset, cancelled) in enumerate(plan):
            handle = vloop.call_at(start + offset, fired.append, f"{tag}{i}")
            if cancelled:
                handle.cancel()

    schedule(first, "a", base)
    vloop.call_at(base + 2, schedule, second, "b", base + 1)
    vloop.run_until_complete(asyncio.sleep(10))
    return fired


def test_rank_counter_restarts_once_the_heap_is_empty(debug: bool) -> None:
    with _virtual_loop(debug) as vloop:
        _tie_after_a_drained_heap(vloop)


def _tie_after_a_drained_heap(vloop: EventLoop) -> None:
    fired: list[int] = []
    base = vloop.time()
    for i in range(300):  # all tie: ranks 2..300
        vloop.call_at(base + 1, fired.append, i)
    vloop.run_until_complete(asyncio.sleep(2))
    assert fired == list(range(300))
    assert not vloop._scheduler.timers
    handle = vloop.call_at(base + 5, fired.append, 300)
    tie = vloop.call_at(base + 5, fired.append, 301)
    assert handle._scheduled == 1  # type: ignore[attr-defined]  # True: cannot tie
    assert tie._scheduled == 2  # type: ignore[attr-defined]
    vloop.run_until_complete(asyncio.sleep(5))
    assert fired[300:] == [300, 301]
