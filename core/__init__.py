"""treadle.core: an original asyncio event loop.

The public door of the core layer. Nothing here imports ``treadle.structured`` or
``treadle.compat``; they build on the extension points exported here (``Clock``).
"""

from __future__ import annotations

from ._clock import Clock, MonotonicClock
from ._loop import EventLoop
from .poll import available_pollers

__all__ = ["Clock", "EventLoop", "MonotonicClock", "available_pollers", "new_event_loop"]


def new_event_loop(*, poller: str | None = None, clock: Clock | None = None) -> EventLoop:
    """A new treadle loop; usable as ``asyncio.run(main(), loop_factory=new_event_loop)``.

    ``poller``: "epoll", "kqueue", "poll" or "select" (default: the best this OS has, or the
    TREADLE_POLLER environment variable). ``clock``: a :class:`Clock` replacing real time.
    """
    return EventLoop(poller=poller, clock=clock)
