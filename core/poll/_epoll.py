"""epoll (Linux): level-triggered, masks passed through untranslated.

Facts this relies on: EPOLLIN/EPOLLOUT equal our READ/WRITE bits; EPOLLERR and EPOLLHUP are always
reported whether asked for or not; ``select.epoll.poll`` takes seconds as a float, rounds up to
whole milliseconds (so a 0.3 ms timer cannot turn into a busy loop), retries on EINTR (PEP 475) and
lets a signal handler's exception propagate. Closing an fd drops its registration only when no
other descriptor refers to the same open file, which is why the registry unregisters before the
user closes, and why ``unregister`` tolerates EBADF/ENOENT.
"""

from __future__ import annotations

import select


class EpollPoller:
    name = "epoll"
    keeps_closed_files = True

    def __init__(self) -> None:
        self._epoll = select.epoll()

    def register(self, fd: int, mask: int) -> None:
        self._epoll.register(fd, mask)

    def modify(self, fd: int, mask: int) -> None:
        self._epoll.modify(fd, mask)

    def unregister(self, fd: int) -> None:
        try:
            self._epoll.unregister(fd)
        except OSError:
            pass  # fd already closed: the kernel dropped the registration with it

    def poll(self, timeout: float, max_events: int) -> list[tuple[int, int]]:
        return self._epoll.poll(timeout, max_events)

    def fileno(self) -> int:
        return self._epoll.fileno()

    def close(self) -> None:
        self._epoll.close()
