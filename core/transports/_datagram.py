"""DatagramTransport: a UDP or Unix datagram socket, a queue of unsent datagrams, a protocol.

How this works
--------------
``sendto`` tries the socket at once when nothing is queued; only a full send buffer
(BlockingIOError) queues the datagram and registers a writer, which drains the queue in order.
A datagram is never split: it goes out whole or waits whole.

Reading: asyncio takes one datagram per readiness event, so a server with one socket and many
peers pays a whole loop iteration (an epoll_wait, the scheduler's bookkeeping) per datagram:
measured on UDP echo 1 KiB with 10 clients, 22 013 epoll_wait calls for 22 000 datagrams, where
uvloop (libuv reads up to 32 per event) made 949. The reader here takes up to
``DATAGRAMS_PER_EVENT`` per event, but only while taking the next one now cannot be told apart
from asyncio taking it in the next iteration: it stops as soon as the socket is empty, the
transport stops reading (pause_reading(), close(), an error), datagram_received() scheduled
anything (call_soon, a future's callbacks, a task's wake-up: asyncio would run those before the
next datagram, and so do we), or the loop was asked to stop. When recent events held a single
datagram each (one peer, one datagram at a time), the extra read would only find the socket
empty, so it is tried on one event in 64 only until one finds more. An exception out of
datagram_received() ends the batch too: it goes to the exception handler as a failing callback,
as on asyncio, and the rest is read on the next event.

Errors follow asyncio's split (selector loop, 3.11-3.13): an OSError from recvfrom/sendto is the
network talking (ICMP port unreachable arrives as ConnectionRefusedError on a connected socket)
and goes to ``protocol.error_received`` with the transport left open; anything else is a bug and
closes the transport through the exception handler ("Fatal read error on datagram transport").

Lifecycle (``TransportState``): OPEN -> CLOSING (close() with datagrams still queued) -> CLOSED
(connection_lost is scheduled or done). abort() goes straight to CLOSED and drops the queue.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import socket
import sys
from asyncio.trsock import TransportSocket
from typing import Any

from ._base import ReadingFdTransport, peername, socket_transport_repr, sockname
from ._fdio import (
    RECV_BUFFER_SIZE,
    LoopIO,
    TransportState,
    recv_view,
    set_result_unless_cancelled,
)
from ._flow import WriteFlowControl

logger = logging.getLogger("asyncio")

# 3.11/3.12 drop an empty datagram in sendto(); 3.13 sends it (gh-113812) and counts 8 bytes of
# header per queued datagram, so that a flood of empty datagrams still reaches the high mark.
_SENDS_EMPTY = sys.version_info >= (3, 13)
_HEADER_SIZE = 8 if _SENDS_EMPTY else 0

# asyncio logs a warning once this many writes were attempted after the connection was lost.
LOG_THRESHOLD_FOR_CONNLOST_WRITES = 5

_WOULD_BLOCK = (BlockingIOError, InterruptedError)

# At most this many datagrams are read per readiness event (libuv, under uvloop, reads 32).
DATAGRAMS_PER_EVENT = 32
# A read that finds the socket empty costs a syscall and a BlockingIOError, about what the loop
# iteration it could save costs. With one peer sending one datagram at a time (UDP echo, one
# client) every event holds one datagram, and the second read cost about 0.5 us each. So after
# this many events in a row whose second read found nothing, one event in _PROBE_EVERY tries one
# (the count runs from _LONE_EVENTS_BEFORE_BACKOFF up to _PROBE_AT and starts again); an event
# that finds a second datagram turns batching back on.
_LONE_EVENTS_BEFORE_BACKOFF = 4
_PROBE_EVERY = 64
_PROBE_AT = _LONE_EVENTS_BEFORE_BACKOFF + _PROBE_EVERY

Address = Any  # a (host, port[, flowinfo, scope_id]) tuple, or a path for AF_UNIX


# asyncio's datagram transport is also an asyncio.Transport (through its selector transport base),
# and code checks isinstance(transport, asyncio.Transport): so is ours, in the same MRO order.
class DatagramTransport(ReadingFdTransport, asyncio.Transport, asyncio.DatagramTransport):
    """The transport of ``loop.create_datagram_endpoint`` (asyncio.DatagramTransport).

    ``address``, when given, is the default destination: sendto() then accepts only None or
    that address. Besides the DatagramTransport API it offers what asyncio's selector transport
    offers: pause_reading/resume_reading/is_reading and the write buffer limits.
    """

    max_size = RECV_BUFFER_SIZE  # bytes read per datagram; larger Unix datagrams are truncated

    _sock: socket.socket | None = None  # set once __init__ got that far; __del__ relies on it

    def __init__(
        self,
        io: LoopIO,
        sock: socket.socket,
        protocol: asyncio.BaseProtocol,
        address: Address = None,
        waiter: asyncio.Future[None] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        info = dict(extra or {})
        info["socket"] = TransportSocket(sock)
        info["sockname"] = sockname(sock)
        if "peername" not in info:
            info["peername"] = peername(sock)
        super().__init__(info)
        self._io = io
        self._loop: asyncio.AbstractEventLoop | None = io.loop
        self._recv_view = recv_view(io.loop)
        self._sock = sock
        self._fd = sock.fileno()
        self._protocol: Any = protocol
        self._address = address
        self._state = TransportState.OPEN
        self._reading_paused = False
        self._lost_writes = 0  # sendto() calls after connection loss, for asyncio's warning
        # Events in a row whose second read found the socket empty (see DATAGRAMS_PER_EVENT).
        self._lone_events = 0
        self._ready = io.ready  # the loop's ready queue: only its length is read
        self._queue: collections.deque[tuple[bytes, Address]] = collections.deque()
        self._queued_size = 0  # invariant: sum of len(data) + _HEADER_SIZE over _queue
        self._flow = WriteFlowControl(self._report_flow_error)
        # asyncio sends with send() whenever the socket has a peer, whatever the address.
        self._connected = bool(info["peername"])
        io.claim(self._fd, self)
        loop = io.loop
        loop.call_soon(protocol.connection_made, self)
        # Read only once connection_made() has run, and wake the creator after both.
        loop.call_soon(self._start_reading)
        if waiter is not None:
            loop.call_soon(set_result_unless_cancelled, waiter)

    def __repr__(self) -> str:
        return socket_transport_repr(self, self.get_write_buffer_size)

    # -- lifecycle hooks (_base.FdTransport) ----------------------------------------------------

    def _file(self) -> socket.socket | None:
        return self._sock

    def _forget_file(self) -> None:
        self._sock = None

    def _has_pending_output(self) -> bool:
        return bool(self._queue)

    def _clear_pending_output(self) -> None:
        self._queue.clear()
        self._queued_size = 0

    def abort(self) -> None:
        self._force_close(None)

    # -- reading --------------------------------------------------------------------------------

    def _read_ready(self) -> None:
        # Several datagrams per readiness event, while nothing else wants to run, unless recent
        # events held one each (the module docstring says why and when the batch ends).
        lone = self._lone_events
        if lone < _LONE_EVENTS_BEFORE_BACKOFF or lone == _PROBE_AT:
            self._read_batch(lone, DATAGRAMS_PER_EVENT)
        else:
            self._lone_events = lone + 1  # counting up to the next try (small ints only)
            self._read_batch(lone, 1)  # one datagram, exactly as asyncio reads it

    def _read_batch(self, lone: int, limit: int) -> None:
        # A reader runs only while the transport is open and reading (pause_reading(), close()
        # and the loss of the connection remove it first), so the test below ends a batch early
        # and never refuses an event's first datagram.
        for count in range(limit):
            if self._state is not TransportState.OPEN or self._reading_paused:
                return
            sock = self._sock
            assert sock is not None
            view = self._recv_view
            try:
                nbytes, addr = sock.recvfrom_into(view, self.max_size)
            except _WOULD_BLOCK:
                if count == 1:  # this event's datagram was the only one
                    self._lone_events = (
                        lone + 1 if lone < _PROBE_AT else _LONE_EVENTS_BEFORE_BACKOFF
                    )
                return
            except OSError as exc:
                self._protocol.error_received(exc)
                return
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._fatal_error(exc, "Fatal read error on datagram transport")
                return
            if count == 1:
                self._lone_events = 0  # a second datagram was waiting: batching pays
            ready = self._ready
            queued = len(ready)
            self._protocol.datagram_received(bytes(view[:nbytes]), addr)
            if len(ready) != queued or self._io.stopping:
                return  # what it scheduled runs before the next datagram, as on asyncio

    # -- writing --------------------------------------------------------------------------------

    def sendto(self, data: Any, addr: Address = None) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(
                f"data argument must be a bytes-like object, not {type(data).__name__!r}"
            )
        if not data and not _SENDS_EMPTY:
            return
        if self._address:
            if addr not in (None, self._address):
                raise ValueError(f"Invalid address: must be None or {self._address}")
            addr = self._address
        if self._state is TransportState.CLOSED and (self._address or self._sock is None):
            # asyncio drops writes after the loss of a connected endpoint, warning from the
            # fifth on (its counter starts at 1 when the endpoint closes).
            self._lost_writes += 1
            if self._lost_writes >= LOG_THRESHOLD_FOR_CONNLOST_WRITES:
                logger.warning("socket.send() raised exception.")
            return
        if not self._queue:
            try:
                self._send(data, addr)
                return
            except _WOULD_BLOCK:
                self._io.add_writer(self._fd, self._write_ready)
            except OSError as exc:
                self._protocol.error_received(exc)
                return
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._fatal_error(exc, "Fatal write error on datagram transport")
                return
        # Copy: the caller may reuse its bytearray or memoryview once sendto() returns.
        self._queue.append((bytes(data), addr))
        self._queued_size += len(data) + _HEADER_SIZE
        self._flow.after_growth(self._protocol, self._queued_size)

    def _send(self, data: Any, addr: Address) -> None:
        assert self._sock is not None
        if self._connected:
            self._sock.send(data)
        else:
            self._sock.sendto(data, addr)

    def _write_ready(self) -> None:
        queue = self._queue
        while queue:
            data, addr = queue[0]
            try:
                self._send(data, addr)
            except _WOULD_BLOCK:
                break
            except OSError as exc:
                # Like asyncio, the datagram that failed is gone; the rest stay queued and the
                # writer stays registered, so they go out on the next readiness event.
                self._dequeued(queue.popleft()[0])
                self._protocol.error_received(exc)
                return
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._dequeued(queue.popleft()[0])
                self._fatal_error(exc, "Fatal write error on datagram transport")
                return
            self._dequeued(queue.popleft()[0])
        self._flow.after_shrink(self._protocol, self._queued_size)  # may call sendto()
        if not queue:
            self._io.remove_writer(self._fd)
            if self._state is TransportState.CLOSING:
                self._state = TransportState.CLOSED
                self._call_connection_lost(None)

    def _dequeued(self, data: bytes) -> None:
        self._queued_size -= len(data) + _HEADER_SIZE

    def get_write_buffer_size(self) -> int:
        return self._queued_size

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._flow.get_limits()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._flow.set_limits(high, low)
        self._flow.after_growth(self._protocol, self._queued_size)
