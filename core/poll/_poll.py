"""poll(2): portable to every Unix, masks passed through untranslated (POLLIN=1, POLLOUT=4).

``select.poll`` takes whole milliseconds, so the timeout is rounded up
here; rounding down would wake before a timer is due and spin. POLLNVAL comes back for a closed fd:
it is an extra bit, so the reader and writer wake and see EBADF from their own syscall.
"""

from __future__ import annotations

import math
import select


class PollPoller:
    name = "poll"
    keeps_closed_files = False

    def __init__(self) -> None:
        self._poll = select.poll()

    def register(self, fd: int, mask: int) -> None:
        self._poll.register(fd, mask)

    def modify(self, fd: int, mask: int) -> None:
        self._poll.modify(fd, mask)

    def unregister(self, fd: int) -> None:
        try:
            self._poll.unregister(fd)
        except KeyError:
            pass

    def poll(self, timeout: float, max_events: int) -> list[tuple[int, int]]:
        if timeout < 0:
            return self._poll.poll(None)
        return self._poll.poll(math.ceil(timeout * 1000))

    def fileno(self) -> int:
        return -1

    def close(self) -> None:
        pass
