"""kqueue (macOS, BSD): one kernel filter per direction, translated to READ/WRITE bits.

Written against the kqueue(2) manual and Python's ``select.kqueue`` documentation; this machine is
Linux, so it is not exercised by the test suite here (docs/loop.md says so). Facts it relies on:
read and write interest are separate filters, each added or deleted with its own kevent; EV_EOF
and EV_ERROR are reported on the filter's event, and we map them to both bits as the other
pollers do; deleting a filter for a closed fd fails with EBADF/ENOENT, which is harmless.
"""

from __future__ import annotations

import select

from ._base import READ, WRITE


# typeshed declares select.kqueue and its constants only on BSD and macOS, hence the
# attr-defined ignores below (and unused-ignore, for the platforms where they are declared).
class KqueuePoller:
    name = "kqueue"
    keeps_closed_files = False

    def __init__(self) -> None:
        self._kqueue = select.kqueue()  # type: ignore[attr-defined,unused-ignore]
        self._masks: dict[int, int] = {}

    def register(self, fd: int, mask: int) -> None:
        self._masks[fd] = 0
        try:
            self.modify(fd, mask)
        except BaseException:
            del self._masks[fd]
            raise

    def modify(self, fd: int, mask: int) -> None:
        old = self._masks.get(fd, 0)
        changes = []
        for bit, kfilter in ((READ, select.KQ_FILTER_READ), (WRITE, select.KQ_FILTER_WRITE)):  # type: ignore[attr-defined,unused-ignore]
            if mask & bit and not old & bit:
                changes.append(select.kevent(fd, kfilter, select.KQ_EV_ADD))  # type: ignore[attr-defined,unused-ignore]
            elif old & bit and not mask & bit:
                changes.append(select.kevent(fd, kfilter, select.KQ_EV_DELETE))  # type: ignore[attr-defined,unused-ignore]
        if changes:
            self._kqueue.control(changes, 0, 0)
        self._masks[fd] = mask

    def unregister(self, fd: int) -> None:
        try:
            self.modify(fd, 0)
        except OSError:
            pass  # fd already closed: the kernel dropped its filters
        self._masks.pop(fd, None)

    def poll(self, timeout: float, max_events: int) -> list[tuple[int, int]]:
        wait = None if timeout < 0 else timeout
        ready: dict[int, int] = {}
        for kev in self._kqueue.control(None, max(1, max_events * 2), wait):
            fd = int(kev.ident)
            if kev.flags & (select.KQ_EV_EOF | select.KQ_EV_ERROR):  # type: ignore[attr-defined,unused-ignore]
                bits = READ | WRITE
            elif kev.filter == select.KQ_FILTER_READ:  # type: ignore[attr-defined,unused-ignore]
                bits = READ
            else:
                bits = WRITE
            ready[fd] = ready.get(fd, 0) | bits
        return list(ready.items())

    def fileno(self) -> int:
        return int(self._kqueue.fileno())

    def close(self) -> None:
        self._kqueue.close()
