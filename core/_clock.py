"""The loop's notion of time, as an extension point.

The scheduler asks its clock two things: what time it is, and how long it may sleep in the poller to
wake up at a deadline. Real time answers both with ``time.monotonic``; a virtual clock (treadle's
MockClock lives in ``structured``) answers them from its own counter, which is how every asyncio
timeout and ``call_later`` on a loop becomes virtual without the loop knowing.
"""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """What the scheduler needs from a clock (the same shape as ``trio.abc.Clock``)."""

    def start_clock(self) -> None:
        """Called once, when the loop starts using this clock."""

    def current_time(self) -> float:
        """The loop's time: ``loop.time()``. Must never go backwards."""

    def deadline_to_sleep_time(self, deadline: float) -> float:
        """Seconds of real time to wait in the poller to reach ``deadline`` (may be <= 0)."""


_CLOCK_METHODS = ("start_clock", "current_time", "deadline_to_sleep_time")


def check_clock(clock: object) -> None:
    """TypeError unless ``clock`` is None or has the :class:`Clock` methods.

    Checked where a clock is accepted, so that a wrong one fails there with a message saying what
    a clock needs, not later with an AttributeError from inside the scheduler.
    """
    if clock is None:
        return
    if isinstance(clock, type):
        raise TypeError(
            f"clock must be a clock object, not the class {clock.__qualname__}; "
            f"pass an instance, e.g. {clock.__qualname__}()"
        )
    missing = [name for name in _CLOCK_METHODS if not callable(getattr(clock, name, None))]
    if missing:
        raise TypeError(
            "clock must have the methods start_clock(), current_time() and "
            "deadline_to_sleep_time(deadline) (the treadle.core.Clock protocol, the shape of "
            f"trio.abc.Clock); {clock!r} lacks {', '.join(missing)}"
        )


class MonotonicClock:
    """Real time from ``time.monotonic``, the clock asyncio's loops use."""

    __slots__ = ()

    # A staticmethod bound to the C function: loop.time() costs one C call, no Python frame.
    current_time = staticmethod(time.monotonic)

    def start_clock(self) -> None:
        pass

    def deadline_to_sleep_time(self, deadline: float) -> float:
        return deadline - time.monotonic()

    def __repr__(self) -> str:
        return "MonotonicClock()"
