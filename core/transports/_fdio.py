"""LoopIO: the part of the event loop a transport talks to about its fd.

A transport needs four things from the loop besides call_soon and call_exception_handler: watch
its fd for reading, watch it for writing, stop either, and tell the loop that it owns the fd (so
that loop.add_reader() on that fd raises, as asyncio does for socket transports). The loop's
public add_reader() cannot serve the first of these, because it is exactly the call that refuses
fds a live transport owns. So the EventLoop facade hands each transport one of these objects,
built from its scheduler (the fd registry, the ready queue) and its fd -> transport map, and the
transport never reads the loop's private attributes itself. A datagram transport also asks how
many callbacks are ready and whether the loop is stopping, to know when a batch of reads could
be told apart from asyncio's one read per iteration (``_datagram.py``).
"""

from __future__ import annotations

import asyncio
import enum
import socket
import sys
import weakref
from collections.abc import Callable, MutableMapping, Sized

from .._errors import raise_closed
from .._handles import LoopHandle, ReadyHandle
from .._heap import raise_malloc_thresholds
from .._scheduler import Scheduler

# Bytes a transport asks of one read; asyncio's max_size for sockets and pipes alike.
RECV_BUFFER_SIZE = 256 * 1024

# asyncio 3.12+ (selector_events._make_socket_transport): see LoopIO.check_socket_free.
_REFUSES_SOCKET_IN_USE = sys.version_info >= (3, 12)

# One receive buffer per loop, dropped with the loop (see recv_view).
_recv_views: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, memoryview] = (
    weakref.WeakKeyDictionary()
)


def recv_view(loop: asyncio.AbstractEventLoop) -> memoryview:
    """A RECV_BUFFER_SIZE buffer that every transport of ``loop`` reads into.

    asyncio reads with ``recv(256 KiB)``/``os.read(fd, 256 KiB)``, which allocates a 256 KiB
    object per read (on glibc an mmap and munmap) only to shrink it to what arrived: measured
    here at ~70 us per UDP datagram against ~25 us for reading into this buffer and copying the
    bytes out. Sharing is safe because the copy is made before the protocol runs, and a loop
    runs in one thread.
    """
    view = _recv_views.get(loop)
    if view is None:
        raise_malloc_thresholds()  # see core/_heap.py: else large reads refault heap pages
        view = _recv_views[loop] = memoryview(bytearray(RECV_BUFFER_SIZE))
    return view


class TransportState(enum.Enum):
    """Where a transport is in its life; the same three steps for every kind of transport."""

    OPEN = "open"
    CLOSING = "closing"  # close() or write_eof() was called; buffered data is still going out
    CLOSED = "closed"  # connection_lost() is scheduled or done; no more I/O on the fd


class LoopIO:
    """Reader/writer registration and fd ownership for the transports of one loop."""

    __slots__ = ("_loop", "_owners", "_registry", "_scheduler")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        scheduler: Scheduler,
        owners: MutableMapping[int, asyncio.BaseTransport],
    ) -> None:
        self._loop = loop
        self._scheduler = scheduler
        self._registry = scheduler.registry
        self._owners = owners

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    @property
    def ready(self) -> Sized:
        """The loop's queue of ready callbacks, live; a transport only asks how long it is."""
        return self._scheduler.ready

    @property
    def stopping(self) -> bool:
        """loop.stop() was called: the loop ends after the callbacks of this iteration."""
        return self._scheduler.stopping

    def add_reader(self, fd: int, callback: Callable[[], object]) -> None:
        self._check_open()
        self._registry.set_reader(fd, self._handle(callback))

    def remove_reader(self, fd: int) -> bool:
        # asyncio: removing from a closed loop is a quiet no-op (the registry is gone).
        if self._loop.is_closed():
            return False
        return self._registry.clear_reader(fd)

    def add_writer(self, fd: int, callback: Callable[[], object]) -> None:
        self._check_open()
        self._registry.set_writer(fd, self._handle(callback))

    def remove_writer(self, fd: int) -> bool:
        if self._loop.is_closed():
            return False
        return self._registry.clear_writer(fd)

    def is_reading(self, fd: int) -> bool:
        return not self._loop.is_closed() and self._registry.reader_of(fd) is not None

    def is_writing(self, fd: int) -> bool:
        return not self._loop.is_closed() and self._registry.writer_of(fd) is not None

    def check_fd_free(self, fileobj: object, fd: int) -> None:
        """asyncio's check before wrapping a socket: no live transport may use it already."""
        owner = self._owners.get(fd)
        if owner is not None and not owner.is_closing():
            raise RuntimeError(f"File descriptor {fileobj!r} is used by transport {owner!r}")

    def check_socket_free(self, sock: socket.socket) -> None:
        """check_fd_free before a new stream transport wraps ``sock``, on the Pythons that do.

        3.12+ refuse a socket whose fd number a live transport still uses (the fd was closed
        under that transport and reused): wrapping it would leave the new transport deaf, its
        reader queued behind the old owner's. 3.11 wraps it anyway, and so do we there.
        """
        if _REFUSES_SOCKET_IN_USE:
            self.check_fd_free(sock, sock.fileno())

    def claim(self, fd: int, transport: asyncio.BaseTransport) -> None:
        self._owners[fd] = transport

    def release(self, fd: int, transport: asyncio.BaseTransport) -> None:
        # The fd number may already belong to a newer transport (closed, then reused).
        if self._owners.get(fd) is transport:
            del self._owners[fd]

    def _handle(self, callback: Callable[[], object]) -> LoopHandle:
        if self._loop.get_debug():
            return LoopHandle(callback, (), self._loop, None)  # records where it was made
        return ReadyHandle(callback, (), self._loop, None)

    def _check_open(self) -> None:
        if self._loop.is_closed():
            raise_closed()


def set_result_unless_cancelled(waiter: asyncio.Future[None]) -> None:
    """Wake the coroutine that created a transport, unless it stopped waiting (cancelled)."""
    if not waiter.cancelled():
        waiter.set_result(None)
