"""select(2): the last resort, limited to fds below FD_SETSIZE (usually 1024).

Interest is kept in two sets; results are translated into the READ/WRITE bits. ``select`` raises
EBADF for the whole call when one fd is closed, so a failed call is retried fd by fd to report the
bad ones as ready (with both bits), letting their callbacks fail on their own syscalls.
"""

from __future__ import annotations

import select

from ._base import READ, WRITE


class SelectPoller:
    name = "select"
    keeps_closed_files = False

    def __init__(self) -> None:
        self._readers: set[int] = set()
        self._writers: set[int] = set()

    def register(self, fd: int, mask: int) -> None:
        if fd >= select_limit():
            raise ValueError(f"filedescriptor out of range in select(): {fd}")
        self.modify(fd, mask)

    def modify(self, fd: int, mask: int) -> None:
        (self._readers.add if mask & READ else self._readers.discard)(fd)
        (self._writers.add if mask & WRITE else self._writers.discard)(fd)

    def unregister(self, fd: int) -> None:
        self._readers.discard(fd)
        self._writers.discard(fd)

    def poll(self, timeout: float, max_events: int) -> list[tuple[int, int]]:
        wait = None if timeout < 0 else timeout
        try:
            readable, writable, _ = select.select(self._readers, self._writers, (), wait)
        except OSError:
            return self._find_bad_fds()
        ready: dict[int, int] = {}
        for fd in readable:
            ready[fd] = READ
        for fd in writable:
            ready[fd] = ready.get(fd, 0) | WRITE
        return list(ready.items())

    def _find_bad_fds(self) -> list[tuple[int, int]]:
        bad = []
        for fd in self._readers | self._writers:
            try:
                select.select([fd], [], [], 0)
            except OSError:
                bad.append((fd, READ | WRITE))
        return bad

    def fileno(self) -> int:
        return -1

    def close(self) -> None:
        self._readers.clear()
        self._writers.clear()


def select_limit() -> int:
    # FD_SETSIZE is not exposed by the select module; 1024 is its value on Linux, macOS and BSDs.
    return 1024
