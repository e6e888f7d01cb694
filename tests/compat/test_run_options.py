"""One run(): the forms it accepts, its options, and clear errors for bad ones.

``treadle.run``, ``treadle.compat.run`` and ``treadle.structured.run`` are one function; a bad
option fails before anything is created, and leaves no unclosed loop or unawaited coroutine.
"""

from __future__ import annotations

import asyncio
import gc
import warnings
from collections.abc import Callable
from typing import Any

import pytest

import treadle
from treadle.core import EventLoop, available_pollers
from treadle.testing import MockClock


def _warnings_from(call: Callable[[], object]) -> list[str]:
    """Warnings raised while running ``call`` and collecting what it dropped."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
        gc.collect()
    return [str(w.message) for w in caught]


def test_one_run_under_every_name() -> None:
    assert treadle.run is treadle.compat.run is treadle.structured.run


@pytest.mark.parametrize("poller", available_pollers())
def test_run_async_function_with_args_and_every_option(poller: str) -> None:
    async def main(x: int, y: int) -> tuple[int, float, bool, str]:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(100)  # virtual: MockClock jumps
        assert isinstance(loop, EventLoop)
        return x + y, loop.time(), loop.get_debug(), type(loop.clock).__name__

    clock = MockClock(autojump_threshold=0)
    result = treadle.run(main, 40, 2, debug=True, clock=clock, poller=poller)
    assert result == (42, 100.0, True, "MockClock")


def test_run_coroutine_with_options() -> None:
    async def main() -> float:
        await asyncio.sleep(5)
        return asyncio.get_running_loop().time()

    assert treadle.run(main(), clock=MockClock(autojump_threshold=0), debug=False) == 5.0


def test_structured_docs_form_works_on_treadle_run() -> None:
    # docs/structured.md's run(main, clock=...) copied as treadle.run(main, clock=...).
    async def main() -> float:
        await treadle.sleep(3)
        return treadle.current_time()

    assert treadle.run(main, clock=MockClock(autojump_threshold=0)) == 3.0


def test_run_sync_function_says_it_is_not_async() -> None:
    def sync_main() -> int:
        return 1

    with pytest.raises(TypeError, match=r"run\(\) expected an async function, but .*sync_main"):
        treadle.run(sync_main)  # type: ignore[arg-type]


def test_run_coroutine_with_args_is_refused_and_closed() -> None:
    async def main(x: int) -> int:
        return x

    def call() -> None:
        with pytest.raises(TypeError, match=r"run\(main, arg\) or run\(main\(arg\)\)"):
            treadle.run(main(1), 2)  # type: ignore[call-overload]

    assert _warnings_from(call) == []


CLOCK_NEEDS = r"start_clock\(\), current_time\(\) and deadline_to_sleep_time\(deadline\)"


class _HalfAClock:
    def current_time(self) -> float:
        return 0.0


@pytest.mark.parametrize(
    ("clock", "match"),
    [
        (5, CLOCK_NEEDS + r".*5 lacks start_clock, current_time, deadline_to_sleep_time"),
        (_HalfAClock(), CLOCK_NEEDS + ".*lacks start_clock, deadline_to_sleep_time"),
        (MockClock, r"not the class MockClock; pass an instance, e\.g\. MockClock\(\)"),
    ],
)
@pytest.mark.parametrize("where", ["EventLoop", "new_event_loop", "run"])
def test_bad_clock_is_a_type_error_saying_what_a_clock_needs(
    clock: Any, match: str, where: str
) -> None:
    async def main() -> None:
        pass

    makers: dict[str, Callable[[], object]] = {
        "EventLoop": lambda: EventLoop(clock=clock),
        "new_event_loop": lambda: treadle.new_event_loop(clock=clock),
        "run": lambda: treadle.run(main(), clock=clock),
    }

    def call() -> None:
        with pytest.raises(TypeError, match=match):
            makers[where]()

    # No "unclosed event loop", no "coroutine was never awaited".
    assert _warnings_from(call) == []


def test_bad_poller_fails_cleanly_through_run() -> None:
    async def main() -> None:
        pass

    def call() -> None:
        with pytest.raises(ValueError, match="unknown poller 'bogus'"):
            treadle.run(main(), poller="bogus")

    assert _warnings_from(call) == []


def test_run_takes_main_by_keyword_like_asyncio_run() -> None:
    async def main() -> int:
        return 5

    assert treadle.run(main=main()) == asyncio.run(main=main()) == 5
