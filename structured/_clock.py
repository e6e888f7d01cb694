"""MockClock: virtual time for a treadle loop, with Trio's ``rate`` and autojump.

Plugged into ``new_event_loop(clock=...)`` through core's Clock protocol, so ``loop.time()``,
every ``call_later``/``call_at``, asyncio.sleep, asyncio.timeout and treadle deadlines all run on
virtual time.

Autojump: when the loop has had nothing to run for ``autojump_threshold`` real seconds, the clock
jumps to the earliest pending timer. The loop asks ``deadline_to_sleep_time`` only when it is
about to wait with timers pending, so that is where the idle waiter is armed; with no timers the
clock stays put (there is nothing to jump to, and re-arming then would spin).
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

# What the poller is told to wait when virtual time does not move by itself (rate 0).
_FOREVER = 999_999_999.0


class MockClock:
    """A virtual clock: ``MockClock(rate=0.0, autojump_threshold=math.inf)``.

    ``rate``: virtual seconds per real second (0: time moves only by :meth:`jump` or autojump).
    ``autojump_threshold``: real seconds of loop idleness after which time jumps to the next
    timer; 0 makes every sleep instant. Use as ``treadle.core.new_event_loop(clock=MockClock())``.
    """

    def __init__(self, rate: float = 0.0, autojump_threshold: float = math.inf) -> None:
        self._real_base = 0.0
        self._virtual_base = 0.0
        self._rate = 0.0
        self._autojump_threshold = math.inf
        self._idle_handle: asyncio.Handle | None = None
        self._loop: Any = None
        self.rate = rate
        self.autojump_threshold = autojump_threshold

    def __repr__(self) -> str:
        return (
            f"<MockClock time={self.current_time():.7f} rate={self._rate} "
            f"autojump_threshold={self._autojump_threshold}>"
        )

    @property
    def rate(self) -> float:
        return self._rate

    @rate.setter
    def rate(self, value: float) -> None:
        if value < 0:
            raise ValueError("rate must be >= 0")
        # Re-base so that the time does not jump when the rate changes.
        self._virtual_base = self.current_time()
        self._real_base = time.perf_counter()
        self._rate = float(value)

    @property
    def autojump_threshold(self) -> float:
        return self._autojump_threshold

    @autojump_threshold.setter
    def autojump_threshold(self, value: float) -> None:
        if value < 0:
            raise ValueError("autojump_threshold must be >= 0")
        self._autojump_threshold = float(value)
        if self._idle_handle is not None:
            self._idle_handle.cancel()
            self._idle_handle = None

    # -- the Clock protocol ----------------------------------------------------------------------

    def start_clock(self) -> None:
        # A new loop is taking this clock (one clock reused across runs, e.g. a pytest fixture's
        # params). An autojump waiter armed on the previous loop died with it; keeping its handle
        # would stop us arming one here, and a rate-0 clock would then sleep forever.
        if self._idle_handle is not None:
            self._idle_handle.cancel()
            self._idle_handle = None
        self._loop = None

    def current_time(self) -> float:
        if self._rate == 0.0:
            return self._virtual_base
        return self._virtual_base + (time.perf_counter() - self._real_base) * self._rate

    def deadline_to_sleep_time(self, deadline: float) -> float:
        if self._autojump_threshold != math.inf and self._idle_handle is None:
            self._arm_autojump()
        virtual_timeout = deadline - self.current_time()
        if virtual_timeout <= 0:
            return 0.0
        if self._rate > 0:
            return virtual_timeout / self._rate
        return _FOREVER

    # -- moving time -----------------------------------------------------------------------------

    def jump(self, seconds: float) -> None:
        """Move virtual time forward by ``seconds``; ValueError if negative."""
        if seconds < 0:
            raise ValueError("time can't go backwards")
        self._virtual_base += seconds

    def _arm_autojump(self) -> None:
        loop = asyncio.get_running_loop()
        call_when_idle = getattr(loop, "call_when_idle", None)
        if call_when_idle is None:
            return  # autojump needs a treadle loop; the clock still works without it
        self._loop = loop
        self._idle_handle = call_when_idle(self._autojump_threshold, self._autojump)

    def _autojump(self) -> None:
        self._idle_handle = None
        deadline = self._loop.next_timer_deadline()
        if deadline is not None:
            now = self.current_time()
            if deadline > now:
                self.jump(deadline - now)
