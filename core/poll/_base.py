"""The one small interface every OS poller implements.

Interest masks use two bits, ``READ`` (1) and ``WRITE`` (4): the values of EPOLLIN/POLLIN and
EPOLLOUT/POLLOUT, so the epoll and poll back ends pass masks through untranslated. ``poll()``
returns ``(fd, events)`` pairs where ``events`` may carry extra bits (error, hang-up). The fd
registry reads them the way asyncio's selectors do: any bit other than WRITE wakes the reader,
any bit other than READ wakes the writer, so an error or hang-up wakes both and the callback sees
the error from its own syscall.
"""

from __future__ import annotations

from typing import Protocol

READ = 1
WRITE = 4


class Poller(Protocol):
    """Readiness notification for file descriptors; knows fds and bitmasks, nothing else."""

    name: str
    # True when the OS keeps a registration after its fd is closed while another descriptor
    # (a dup, a forked child's copy) holds the file open: epoll. The fd registry then rebuilds
    # the poller to get rid of it (see core/_fdregistry.py).
    keeps_closed_files: bool

    def register(self, fd: int, mask: int) -> None:
        """Start watching ``fd``; raises OSError as the OS reports it (EBADF, EPERM, ...)."""

    def modify(self, fd: int, mask: int) -> None:
        """Change the interest of an fd already registered."""

    def unregister(self, fd: int) -> None:
        """Stop watching ``fd``; silent if the OS already forgot it (fd closed)."""

    def poll(self, timeout: float, max_events: int) -> list[tuple[int, int]]:
        """Wait up to ``timeout`` seconds (< 0: forever) and return ready ``(fd, events)``."""

    def fileno(self) -> int:
        """The poller's own fd, or -1 where it has none."""

    def close(self) -> None:
        """Release the OS object; idempotent."""
