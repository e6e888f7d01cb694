"""Dropping cancelled timers from the heap: a loop over asyncio's handles, kept interpreted.

Like ``_ready.py``, and for the same reason, this module is deliberately *not* in setup.py's
COMPILED_MODULES: the handles are asyncio's own classes, so compiled code reads ``_cancelled``
and writes ``_scheduled`` through generic attribute calls, while CPython 3.11+'s specialising
interpreter reaches those slots directly. Measured on the compiled build (3.13, timer_churn's
waves of 1000 timers over a heap of 1500): 88 ns per timer compiled, 69 ns interpreted.
"""

from __future__ import annotations

from heapq import heapify

from ._handles import LoopTimerHandle


def sweep_cancelled(timers: list[LoopTimerHandle]) -> None:
    """Rebuild the heap ``timers`` in place without its cancelled entries, and unmark those."""
    live = []
    for handle in timers:
        if handle._cancelled:
            handle._scheduled = False
        else:
            live.append(handle)
    heapify(live)
    timers[:] = live  # in place: the loop holds a reference to this list
