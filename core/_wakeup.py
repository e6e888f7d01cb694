"""Waking a loop that is blocked in its poller, from another thread or a signal handler.

On Linux an eventfd does it with one fd and a counter that coalesces any number of wake-ups into
one read; elsewhere a non-blocking socketpair plays the same role. The scheduler only asks for a
wake-up while it is (about to be) blocked, so a busy loop pays nothing for
``call_soon_threadsafe``.
"""

from __future__ import annotations

import os
import socket


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
