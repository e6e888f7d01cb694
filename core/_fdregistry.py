"""Who waits on which fd: reader and writer handles per fd, mirrored into the poller.

The registry owns the poller. ``set_reader``/``set_writer`` replace the previous handle for that
direction (cancelling it, as asyncio does), and the poller's interest mask always equals the set
of directions that have a handle, so a level-triggered poller never reports an fd nobody waits on.
``dispatch`` appends the woken handles to the scheduler's ready queue; the handles are reused for
every wake-up, so an fd that is ready again and again costs no allocation.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass

from .poll import READ, WRITE, Poller

# Bits that wake a direction: anything but the other direction's bit, so that error and hang-up
# conditions (EPOLLERR, EPOLLHUP, POLLNVAL, ...) wake both sides, as asyncio's selectors do.
_WAKES_READER = ~WRITE
_WAKES_WRITER = ~READ


class _Interest:
    __slots__ = ("fileobj", "mask", "reader", "writer")

    def __init__(self) -> None:
        self.fileobj: object = None  # what the caller passed, to find it again once closed
        self.reader: asyncio.Handle | None = None
        self.writer: asyncio.Handle | None = None
        self.mask = 0  # invariant: READ set iff reader, WRITE set iff writer (as the poller has it)


@dataclass(frozen=True)
class FdRegistryStatistics:
    poller: str
    fds: int
    readers: int
    writers: int


class FdRegistry:
    def __init__(self, poller: Poller, ready: deque[asyncio.Handle]) -> None:
        self._poller = poller
        self._ready = ready
        self._interests: dict[int, _Interest] = {}

    @property
    def poller(self) -> Poller:
        return self._poller

    def set_reader(self, fd: int, handle: asyncio.Handle, fileobj: object = None) -> None:
        interest = self._interest_for(fd, READ)
        interest.fileobj = fd if fileobj is None else fileobj
        old = interest.reader
        interest.reader = handle
        if old is not None:
            old.cancel()

    def set_writer(self, fd: int, handle: asyncio.Handle, fileobj: object = None) -> None:
        interest = self._interest_for(fd, WRITE)
        interest.fileobj = fd if fileobj is None else fileobj
        old = interest.writer
        interest.writer = handle
        if old is not None:
            old.cancel()

    def clear_reader(self, fd: int) -> bool:
        interest = self._interests.get(fd)
        if interest is None or interest.reader is None:
            return False
        interest.reader.cancel()
        interest.reader = None
        self._drop_interest(fd, interest, READ)
        return True

    def clear_writer(self, fd: int) -> bool:
        interest = self._interests.get(fd)
        if interest is None or interest.writer is None:
            return False
        interest.writer.cancel()
        interest.writer = None
        self._drop_interest(fd, interest, WRITE)
        return True

    def reader_of(self, fd: int) -> asyncio.Handle | None:
        interest = self._interests.get(fd)
        return None if interest is None else interest.reader

    def writer_of(self, fd: int) -> asyncio.Handle | None:
        interest = self._interests.get(fd)
        return None if interest is None else interest.writer

    def fd_of_fileobj(self, fileobj: object) -> int | None:
        for fd, interest in self._interests.items():
            if interest.fileobj is fileobj:
                return fd
        return None

    def poll(self, timeout: float) -> list[tuple[int, int]]:
        return self._poller.poll(timeout, len(self._interests) or 1)

    def dispatch(self, events: list[tuple[int, int]]) -> None:
        interests = self._interests
        append = self._ready.append
        for fd, bits in events:
            interest = interests.get(fd)
            if interest is None:
                continue  # unregistered by a callback earlier in this batch
            if bits & _WAKES_READER:
                handle = interest.reader
                if handle is not None and not handle._cancelled:
                    append(handle)
            if bits & _WAKES_WRITER:
                handle = interest.writer
                if handle is not None and not handle._cancelled:
                    append(handle)

    def close(self) -> None:
        for interest in self._interests.values():
            for handle in (interest.reader, interest.writer):
                if handle is not None:
                    handle.cancel()
        self._interests.clear()
        self._poller.close()

    def statistics(self) -> FdRegistryStatistics:
        values = self._interests.values()
        return FdRegistryStatistics(
            poller=self._poller.name,
            fds=len(self._interests),
            readers=sum(1 for i in values if i.reader is not None),
            writers=sum(1 for i in values if i.writer is not None),
        )

    def _interest_for(self, fd: int, bit: int) -> _Interest:
        interest = self._interests.get(fd)
        if interest is None:
            interest = _Interest()
            self._poller.register(fd, bit)  # raises before we record anything (EBADF, EPERM)
            interest.mask = bit
            self._interests[fd] = interest
        elif not interest.mask & bit:
            self._poller.modify(fd, interest.mask | bit)
            interest.mask |= bit
        return interest

    def _drop_interest(self, fd: int, interest: _Interest, bit: int) -> None:
        interest.mask &= ~bit
        if interest.mask:
            try:
                self._poller.modify(fd, interest.mask)
            except OSError:
                # The fd was closed under us; forget it rather than fail the caller's cleanup.
                self._poller.unregister(fd)
                self._forget(fd, interest)
        else:
            self._poller.unregister(fd)
            del self._interests[fd]

    def _forget(self, fd: int, interest: _Interest) -> None:
        for handle in (interest.reader, interest.writer):
            if handle is not None:
                handle.cancel()
        del self._interests[fd]
