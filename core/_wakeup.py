"""Waking a loop that is blocked in its poller, from another thread or a signal handler.

On Linux an eventfd does it with one fd and a counter that coalesces any number of wake-ups into
one read; elsewhere a non-blocking socketpair plays the same role. The scheduler only asks for a
wake-up while it is (about to be) blocked, so a busy loop pays nothing for
``call_soon_threadsafe``.

That saving has a trap, and ``pace_poster`` closes it. asyncio writes to its self-pipe on every
``call_soon_threadsafe``; the write is a system call that releases the GIL, so the loop's thread
gets its turn after every post. Without the write, threads posting in a tight loop hold the GIL for
whole switch intervals, four of them outpost the loop about three to one, and the queue grows
without bound (before the fix: 4 threads for 8 s, a ``sleep(0.5)`` took 8.1 s and 1.9 million
callbacks were queued). So a thread that posts to a running loop whose queue is past
``POSTER_BACKLOG`` sleeps about as long as the loop needs to run that queue (a microsecond per
callback), times the number of threads being paced at once. The queue stays near the mark and
timers on time for any number of threads (64 measured); below the mark the cost is one ``len()``
per call.
Rejected: a wake-up write per call (asyncio's way: a syscall per post even for one thread);
``time.sleep(0)`` past the mark (yields the GIL, but 16+ threads still outpost the loop, and a
two-tier yield-then-sleep scheme still let 64 threads delay a timer by a second); blocking
posters until the loop drains (a deadlock when the loop stops).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Sized

# Queued callbacks past which a posting thread is paced: about a millisecond of the loop's work.
POSTER_BACKLOG = 1000
# Roughly what running one queued callback costs the loop; a paced thread sleeps this long per
# queued callback, at most _POSTER_PAUSE_MAX.
_POSTER_PAUSE_PER_CALLBACK = 1e-6
_POSTER_PAUSE_MAX = 0.1
_paced = [0]  # threads being paced right now, all loops together


def pace_poster(ready: Sized, loop_thread: int | None) -> None:
    """Slow down a thread that posts to a loop whose ready queue is past ``POSTER_BACKLOG``.

    Never on the loop's own thread (it is the one that drains the queue), and never when no loop
    runs (nobody would drain it while we wait).
    """
    if loop_thread is None or threading.get_ident() == loop_thread:
        return
    # Each paced thread adds its own posts and GIL hand-offs while the loop drains, so the pause
    # grows with how many are paced at once (counted without a lock: an estimate is enough).
    _paced[0] += 1
    try:
        pause = len(ready) * _POSTER_PAUSE_PER_CALLBACK * _paced[0]
        time.sleep(min(pause, _POSTER_PAUSE_MAX))
    finally:
        _paced[0] -= 1


class Waker:
    """An fd that becomes readable when ``wake()`` is called."""

    def __init__(self) -> None:
        self._eventfd = -1
        self._rsock: socket.socket | None = None
        self._wsock: socket.socket | None = None
        if hasattr(os, "eventfd"):
            self._eventfd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        else:
            self._rsock, self._wsock = socket.socketpair()
            self._rsock.setblocking(False)
            self._wsock.setblocking(False)

    def fileno(self) -> int:
        if self._rsock is not None:
            return self._rsock.fileno()
        return self._eventfd

    def wake(self) -> None:
        try:
            if self._wsock is not None:
                self._wsock.send(b"\0")
            elif self._eventfd >= 0:
                os.eventfd_write(self._eventfd, 1)
        except (BlockingIOError, InterruptedError):
            pass  # already full of wake-ups: the loop will wake anyway
        except OSError:
            pass  # closed during interpreter or loop shutdown: nobody is left to wake

    def drain(self) -> None:
        try:
            if self._rsock is not None:
                while self._rsock.recv(4096):
                    pass
            elif self._eventfd >= 0:
                os.eventfd_read(self._eventfd)
        except (BlockingIOError, InterruptedError):
            pass

    def close(self) -> None:
        if self._rsock is not None:
            self._rsock.close()
        if self._wsock is not None:
            self._wsock.close()
        if self._eventfd >= 0:
            os.close(self._eventfd)
            self._eventfd = -1
