"""WriteFlowControl: asyncio's high/low water marks and the protocol's pause/resume calls.

asyncio documents it for every write transport: when the write buffer grows above the high mark
the protocol's pause_writing() is called once; when it drains to the low mark or below,
resume_writing() is called once. Defaults are 64 KiB high and a quarter of high as low;
``set_write_buffer_limits(high, low)`` derives a missing mark from the other (high = 4 * low,
low = high // 4) and rejects limits that are not ``high >= low >= 0`` with asyncio's message.

The transport owns the buffer and tells this object its size after each change; this object owns
only the marks and the "protocol is paused" bit. An exception from pause_writing/resume_writing
is reported (asyncio's "protocol.pause_writing() failed") and never reaches the caller of write.
"""

from __future__ import annotations

import types
import weakref
from collections.abc import Callable
from typing import Any

DEFAULT_HIGH_WATER = 64 * 1024

ErrorReporter = Callable[[str, BaseException], None]


def checked_limits(high: int | None, low: int | None) -> tuple[int, int]:
    """(high, low) as asyncio derives and validates them; ValueError when they do not fit."""
    if high is None:
        high = DEFAULT_HIGH_WATER if low is None else 4 * low
    if low is None:
        low = high // 4
    if not high >= low >= 0:
        raise ValueError(f"high ({high!r}) must be >= low ({low!r}) must be >= 0")
    return high, low


class WriteFlowControl:
    __slots__ = ("_high", "_low", "_owner", "_report", "paused")

    def __init__(self, report: ErrorReporter) -> None:
        self._high, self._low = checked_limits(None, None)
        # ``report`` is usually a method of the transport that owns this object: a strong
        # reference would put every transport in a cycle only the cyclic GC frees (issue 13,
        # defect 4). It is needed only when pause/resume_writing() fails, so a weak one is enough.
        # Not a WeakMethod: its two weak references cost about 300 bytes per connection. A plain
        # weakref.ref() without a callback is the one CPython shares among all such references
        # to an object (the loop's fd-owner map already holds it), so this costs nothing.
        self._owner: weakref.ref[Any] | None = None
        self._report: Callable[..., None] = report
        if isinstance(report, types.MethodType):
            self._owner = weakref.ref(report.__self__)
            self._report = report.__func__
        self.paused = False  # invariant: True between a pause_writing() and its resume_writing()

    def get_limits(self) -> tuple[int, int]:
        """asyncio's order: (low, high)."""
        return self._low, self._high

    def set_limits(self, high: int | None, low: int | None) -> None:
        self._high, self._low = checked_limits(high, low)

    def after_growth(self, protocol: Any, size: int) -> None:
        """Call after the buffer grew (or the limits changed) to ``size`` bytes."""
        if size <= self._high or self.paused:
            return
        self.paused = True
        try:
            protocol.pause_writing()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._report_error("protocol.pause_writing() failed", exc)

    def after_shrink(self, protocol: Any, size: int) -> None:
        """Call after the buffer shrank to ``size`` bytes."""
        if not self.paused or size > self._low:
            return
        self.paused = False
        try:
            protocol.resume_writing()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._report_error("protocol.resume_writing() failed", exc)

    def _report_error(self, message: str, exc: BaseException) -> None:
        if self._owner is None:
            self._report(message, exc)
            return
        owner = self._owner()
        if owner is not None:  # else the transport is gone, and the protocol call with it
            self._report(owner, message, exc)
