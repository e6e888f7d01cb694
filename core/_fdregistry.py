"""Who waits on which fd: reader and writer handles per fd, mirrored into the poller.

The registry owns the poller. ``set_reader``/``set_writer`` replace the previous handle for that
direction (cancelling it, as asyncio does), and the poller's interest mask always equals the set
of directions that have a handle, so a level-triggered poller never reports an fd nobody waits on.
``dispatch`` appends the woken handles to the scheduler's ready queue; the handles are reused for
every wake-up, so an fd that is ready again and again costs no allocation.

Parking (the sock_* fast path): ``park_reader``/``park_writer`` drop the handle but leave the
kernel registration in place until just before the next poll. A ``sock_recv`` loop removes its
reader when data arrives and adds it again a moment later, in the same task step; if the same
socket object asks again before the next poll, the parked registration is revived without a
syscall (two epoll_ctl calls saved per message). Otherwise ``poll`` first brings the poller in
line with the handles, so the invariant above holds whenever the poller is asked.
The traps, and how they are closed:
- The socket may be closed while parked. Its fd number can then be reused by a new file that
  the kernel has not registered, so only the *same socket object* revives a parking; anything
  else (a new socket, a plain int, which small-int caching makes ambiguous) re-registers for
  real. Closing drops a registration from epoll unless another descriptor (a dup) keeps the
  file open: then a registration we can no longer name lingers, and epoll reports an fd nobody
  watches. ``dispatch`` treats such strays by rebuilding the poller after a few rounds.
- Worse, the number may be reused first: a task gets its data (parked), closes the socket while a
  dup or a forked child holds the file, and a new socket gets the same number and waits. epoll
  then holds two registrations under one number, the lingering one ready for ever, and every
  poll wakes the new waiter for nothing: a loop at 100 % CPU (issue 13, defect 2). epoll_ctl
  removes a registration only through an fd naming its file, and we have none, so the one cure
  is a fresh poller (a syscall per watched fd). Rebuilding whenever a parked socket turns out
  closed would charge every "recv, then close" for a dup that almost never exists, so the
  number becomes a *suspect* instead (on pollers that keep closed files' registrations,
  ``Poller.keeps_closed_files``: epoll; kqueue drops them with the fd, poll and select keep no
  kernel state). An event reported for a suspect number is checked with a one-off poll(2) of
  that fd: if the fd is not ready, the event came from a lingering registration, it is dropped
  and the poller is rebuilt before the next poll. A rebuild clears the suspects; too many of them
  (``_MIN_SUSPECTS_BEFORE_REBUILD``, or a quarter of the watched fds) also trigger one, which
  bounds the extra checks.
"""

from __future__ import annotations

import select
import socket
from collections import deque
from dataclasses import dataclass
from typing import Final

from ._handles import LoopHandle
from .poll import READ, WRITE, Poller

# Bits that wake a direction: anything but the other direction's bit, so that error and hang-up
# conditions (EPOLLERR, EPOLLHUP, POLLNVAL, ...) wake both sides, as asyncio's selectors do.
_WAKES_READER: Final = ~WRITE
_WAKES_WRITER: Final = ~READ
# Polls in a row that reported unknown fds before the poller is rebuilt; one round is normal
# (a callback unregistered an fd that was also in the same batch of events).
_STRAY_ROUNDS_BEFORE_REBUILD: Final = 3
# Suspect fd numbers (see the module docstring) past which the poller is rebuilt anyway: at least
# this many, or a quarter of the watched fds, so that a rebuild (a syscall per watched fd) costs
# at most about four syscalls per suspect, and checks stay confined to a few fds.
_MIN_SUSPECTS_BEFORE_REBUILD: Final = 64


class _Interest:
    __slots__ = ("fileobj", "mask", "parked", "reader", "writer")

    def __init__(self) -> None:
        self.parked = 0  # directions whose handle was dropped but whose registration is kept
        self.fileobj: object = None  # what the caller passed, to find it again once closed
        self.reader: LoopHandle | None = None
        self.writer: LoopHandle | None = None
        # As the poller has it. Invariant at every poll: READ set iff reader, WRITE iff writer;
        # between polls a parked direction keeps its bit.
        self.mask = 0


@dataclass(frozen=True)
class FdRegistryStatistics:
    poller: str
    fds: int
    readers: int
    writers: int


class FdRegistry:
    def __init__(self, poller: Poller, ready: deque[LoopHandle]) -> None:
        self._poller = poller
        self._ready = ready
        self._interests: dict[int, _Interest] = {}
        self._parked_fds: list[int] = []
        self._stray_rounds = 0  # consecutive polls that reported fds nobody watches
        self._rebuild_before_poll = False  # a lingering registration was seen: start afresh
        # Numbers whose parked socket was closed: the kernel may still hold a registration for
        # the old file under them. Only ever filled when the poller keeps closed files.
        self._suspects: set[int] = set()

    @property
    def interests(self) -> dict[int, _Interest]:
        """fd -> what waits on it; live, for the scheduler to count (never to change)."""
        return self._interests

    @property
    def poller(self) -> Poller:
        return self._poller

    def set_reader(self, fd: int, handle: LoopHandle, fileobj: object = None) -> None:
        interest = self._interest_for(fd, READ, fileobj)
        interest.fileobj = fd if fileobj is None else fileobj
        old = interest.reader
        interest.reader = handle
        if old is not None:
            old.cancel()

    def set_writer(self, fd: int, handle: LoopHandle, fileobj: object = None) -> None:
        interest = self._interest_for(fd, WRITE, fileobj)
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

    def park_reader(self, fd: int) -> bool:
        """Like ``clear_reader``, keeping the kernel registration until the next poll."""
        interest = self._interests.get(fd)
        if interest is None or interest.reader is None:
            return False
        interest.reader.cancel()
        interest.reader = None
        interest.parked |= READ
        self._parked_fds.append(fd)
        return True

    def park_writer(self, fd: int) -> bool:
        """Like ``clear_writer``, keeping the kernel registration until the next poll."""
        interest = self._interests.get(fd)
        if interest is None or interest.writer is None:
            return False
        interest.writer.cancel()
        interest.writer = None
        interest.parked |= WRITE
        self._parked_fds.append(fd)
        return True

    def reader_of(self, fd: int) -> LoopHandle | None:
        interest = self._interests.get(fd)
        return None if interest is None else interest.reader

    def writer_of(self, fd: int) -> LoopHandle | None:
        interest = self._interests.get(fd)
        return None if interest is None else interest.writer

    def fd_of_fileobj(self, fileobj: object) -> int | None:
        for fd, interest in self._interests.items():
            if interest.fileobj is fileobj:
                return fd
        return None

    def poll(self, timeout: float) -> list[tuple[int, int]]:
        if self._parked_fds:
            self._settle_parked()
        if self._rebuild_before_poll:
            self._rebuild_poller()
        return self._poller.poll(timeout, len(self._interests) or 1)

    def _settle_parked(self) -> None:
        for fd in self._parked_fds:
            interest = self._interests.get(fd)
            if interest is None or not interest.parked:
                continue  # revived, or forgotten since
            if _is_closed_socket(interest.fileobj):
                self._discard_closed(fd, interest)
                continue
            bits, interest.parked = interest.parked, 0
            self._drop_interest(fd, interest, bits)
        self._parked_fds.clear()

    def dispatch(self, events: list[tuple[int, int]]) -> None:
        if self._suspects:
            events = self._screen_suspects(events)
        interests = self._interests
        append = self._ready.append
        strays = False
        for fd, bits in events:
            interest = interests.get(fd)
            if interest is None:
                # Unregistered by a callback earlier in this batch, or a registration the
                # kernel kept for a dup of a closed fd (see the module docstring).
                strays = True
                continue
            if bits & _WAKES_READER:
                handle = interest.reader
                if handle is not None and not handle._cancelled:
                    append(handle)
            if bits & _WAKES_WRITER:
                handle = interest.writer
                if handle is not None and not handle._cancelled:
                    append(handle)
        if strays:
            self._stray_rounds += 1
            if self._stray_rounds >= _STRAY_ROUNDS_BEFORE_REBUILD:
                self._rebuild_poller()
        else:
            self._stray_rounds = 0

    def _screen_suspects(self, events: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """Drop events that a lingering registration reported for a suspect number."""
        kept = []
        for fd, bits in events:
            interest = self._interests.get(fd)
            if fd in self._suspects and interest is not None and not _ready_now(fd, interest.mask):
                self._rebuild_before_poll = True
                continue
            kept.append((fd, bits))
        return kept

    def _rebuild_poller(self) -> None:
        """A fresh poller holding exactly our registrations: the one cure for a lingering one."""
        fresh = type(self._poller)()
        for fd, interest in list(self._interests.items()):
            try:
                fresh.register(fd, interest.mask)
            except OSError:
                self._forget(fd, interest)  # closed without being unregistered
        self._poller.close()
        self._poller = fresh
        self._stray_rounds = 0
        self._rebuild_before_poll = False
        self._suspects.clear()

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

    def _interest_for(self, fd: int, bit: int, fileobj: object) -> _Interest:
        interest = self._interests.get(fd)
        if (
            interest is not None
            and interest.parked
            and fileobj is not interest.fileobj  # the same socket cannot be closed: it asks
            and _is_closed_socket(interest.fileobj)
        ):
            self._discard_closed(fd, interest)
            interest = None
        if interest is None:
            interest = _Interest()
            self._poller.register(fd, bit)  # raises before we record anything (EBADF, EPERM)
            interest.mask = bit
            self._interests[fd] = interest
        elif interest.parked & bit:
            interest.parked &= ~bit
            if fileobj is None or fileobj is not interest.fileobj or isinstance(fileobj, int):
                # Not provably the same open file: make sure the kernel has it registered.
                self._reregister(fd, interest)
        elif not interest.mask & bit:
            self._poller.modify(fd, interest.mask | bit)
            interest.mask |= bit
        return interest

    def _discard_closed(self, fd: int, interest: _Interest) -> None:
        """Forget an interest whose socket was closed while parked (see the module docstring)."""
        self._forget(fd, interest)
        # The number is free or names a new file now: for epoll this finds nothing to remove
        # (EBADF or ENOENT, ignored); for poll and select it clears the user-space entry.
        self._poller.unregister(fd)
        if self._poller.keeps_closed_files:
            self._suspects.add(fd)
            limit = max(_MIN_SUSPECTS_BEFORE_REBUILD, len(self._interests) // 4)
            if len(self._suspects) > limit:
                self._rebuild_before_poll = True

    def _reregister(self, fd: int, interest: _Interest) -> None:
        try:
            self._poller.modify(fd, interest.mask)
        except FileNotFoundError:  # ENOENT: the fd number now names a file we never registered
            self._poller.register(fd, interest.mask)

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


def _is_closed_socket(fileobj: object) -> bool:
    # Parked registrations come from sock_* calls, which pass the socket object itself.
    return isinstance(fileobj, socket.socket) and fileobj.fileno() == -1


def _ready_now(fd: int, mask: int) -> bool:
    """Whether ``fd`` itself is ready for ``mask`` (or in error), asked outside our poller."""
    probe = select.poll()
    try:
        probe.register(fd, mask)
    except (OSError, ValueError):
        return True  # let the waiter's own syscall report what is wrong
    return bool(probe.poll(0))
