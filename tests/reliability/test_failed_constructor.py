"""A loop whose constructor raises must not print a second error from ``__del__``.

Defect 8 of issue 13: a bad poller name, TREADLE_POLLER naming a poller this OS lacks, or a clock
that is not one each raised from ``EventLoop()`` as they should, and then ``__del__`` of the
half-built loop raised AttributeError ("'EventLoop' object has no attribute '_signals'"),
printed as "Exception ignored in ...". treadle-only: asyncio's loop takes no such arguments.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from treadle.core import EventLoop, available_pollers


@pytest.fixture
def unraisable() -> Iterator[list[Any]]:
    """What ``sys.unraisablehook`` saw during the test (``__del__`` errors land there)."""
    seen: list[Any] = []
    previous = sys.unraisablehook
    sys.unraisablehook = seen.append
    try:
        yield seen
    finally:
        sys.unraisablehook = previous


def _build(make: Callable[[], EventLoop]) -> BaseException:
    try:
        loop = make()
    except Exception as exc:
        return exc
    loop.close()
    raise AssertionError("the constructor did not raise")


def test_unknown_poller_name_raises_once(unraisable: list[Any]) -> None:
    error = _build(lambda: EventLoop(poller="no-such-poller"))
    assert isinstance(error, ValueError)
    assert "unknown poller 'no-such-poller'" in str(error)
    del error
    gc.collect()
    assert unraisable == []


@pytest.mark.skipif("kqueue" in available_pollers(), reason="this OS has kqueue")
def test_poller_from_environment_missing_on_this_os_raises_once(
    unraisable: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TREADLE_POLLER", "kqueue")
    error = _build(EventLoop)
    assert isinstance(error, ValueError)
    del error
    gc.collect()
    assert unraisable == []


def test_object_that_is_not_a_clock_raises_once(unraisable: list[Any]) -> None:
    error = _build(lambda: EventLoop(clock=object()))  # type: ignore[arg-type]  # the misuse
    # check_clock refuses it up front, naming the missing methods (it was an AttributeError
    # from inside the constructor before that check came in).
    assert isinstance(error, TypeError)
    del error
    gc.collect()
    assert unraisable == []
