"""SocketTransport: a TCP or Unix stream socket between the loop and a protocol.

How this works
--------------
Reading: one reader stays registered while the transport reads. On readiness it receives once,
either straight into the protocol's buffer (BufferedProtocol: get_buffer, recv_into,
buffer_updated) or into a receive buffer shared by every transport of the loop, from which the
protocol gets ``bytes`` of exactly what arrived. asyncio calls ``recv(256 KiB)`` instead, which
allocates (and on glibc often mmaps) a 256 KiB object per read only to shrink it; a shared
buffer costs one copy of the bytes that arrived. Sharing is safe because the copy is made
before the callback returns, and a loop runs in one thread.

Writing: write() sends at once when nothing is buffered; only what the OS did not take goes to
the WriteBuffer, and only then is a writer registered. The writer sends the buffer (several
chunks in one sendmsg()) and unregisters when it is empty. Flow control (pause_writing /
resume_writing at the high and low marks) is WriteFlowControl's job.

Lifecycle (``TransportState``): OPEN -> CLOSING (close() with bytes still buffered: they are
flushed, then the connection is lost) -> CLOSED (connection_lost is scheduled or running; no
more I/O). abort() and fatal errors go straight to CLOSED and drop the buffer. connection_made
runs in the callback after construction and connection_lost exactly once, after it.

Where this matches asyncio's selector transport, and where it does not:
- Errors: an OSError is the network talking and only closes the transport (logged in debug
  mode); any other exception out of the socket or a protocol callback also goes to the loop's
  exception handler with asyncio's message ("Fatal read error on socket transport", ...).
- write() after the connection was lost is dropped, with asyncio's warning past five calls.
  After close() with bytes still buffered, write() still queues (asyncio does the same).
- eof_received() returning a true value keeps the transport open for writing; reading stops for
  good. (asyncio re-registers the reader on a later resume_reading() and calls eof_received()
  again; we do not.)
- writelines() pauses the protocol at the high mark like write() (asyncio 3.12+ forgets to).

TLS (core/tls) layers a protocol over this transport, the way asyncio's SSLProtocol does:
the TLS machine is this transport's BufferedProtocol and hands the application its own
transport, so nothing here knows about TLS.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
import warnings
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .._sendfile import SendfileMode
from ._base import ReadingFdTransport, peername, socket_transport_repr, sockname
from ._buffer import Data, WriteBuffer
from ._fdio import LoopIO, TransportState, recv_view
from ._flow import WriteFlowControl

if TYPE_CHECKING:
    from .._server import Server

logger = logging.getLogger("asyncio")

# asyncio logs a warning once this many writes were attempted after the connection was lost.
LOG_THRESHOLD_FOR_CONNLOST_WRITES = 5

_WOULD_BLOCK = (BlockingIOError, InterruptedError)

# writelines() differs by version: 3.11 joins and calls write() (its errors say "write()"),
# 3.12+ has its own checks and messages.
_OWN_WRITELINES = sys.version_info >= (3, 12)


def _sendmsg_limit() -> int:
    """How many chunks one sendmsg() may take (IOV_MAX), or 0 when sendmsg is unavailable."""
    if not hasattr(socket.socket, "sendmsg"):
        return 0
    try:
        return max(0, os.sysconf("SC_IOV_MAX"))
    except (OSError, ValueError):
        return 0


_IOV_MAX = _sendmsg_limit()


class SocketTransport(ReadingFdTransport, asyncio.Transport):
    """The transport of create_connection/create_server & co. for stream sockets.

    Implements ``asyncio.Transport`` (and the read/write halves' methods) for a connected,
    non-blocking SOCK_STREAM socket. ``waiter``, if given, gets its result once
    connection_made() has run. ``server`` is the Server that accepted the connection.
    """

    __slots__ = (
        "__dict__",
        "__weakref__",
        "_at_eof",
        "_buffer",
        "_buffered_protocol",
        "_empty_waiter",
        "_eof",
        "_fd",
        "_flow",
        "_io",
        "_loop",
        "_lost_writes",
        "_protocol",
        "_reading_paused",
        "_recv_view",
        "_server",
        "_sock",
        "_state",
    )

    _extra: dict[str, Any]  # BaseTransport's slot; typeshed does not declare it

    # loop.sendfile() may try os.sendfile() on this transport's socket (core/_sendfile.py).
    _sendfile_compatible = SendfileMode.TRY_NATIVE
    # loop.start_tls() may put TLS on this transport (core/tls).
    _start_tls_compatible = True

    def __init__(
        self,
        io: LoopIO,
        sock: socket.socket,
        protocol: asyncio.BaseProtocol,
        waiter: asyncio.Future[None] | None = None,
        extra: dict[str, Any] | None = None,
        server: Server | None = None,
    ) -> None:
        super().__init__(extra)
        loop = io.loop
        self._io = io
        self._loop: asyncio.AbstractEventLoop | None = loop
        self._sock: socket.socket | None = sock
        self._fd = sock.fileno()
        self._recv_view = recv_view(loop)
        self._protocol: Any = None
        self._buffered_protocol = False
        self.set_protocol(protocol)
        self._state = TransportState.OPEN
        self._reading_paused = False  # pause_reading() is in effect
        self._at_eof = False  # the peer shut its side and eof_received() kept us open
        self._eof = False  # write_eof() was called; SHUT_WR once the buffer is empty
        self._lost_writes = 0  # write() calls after the connection was lost
        self._buffer = WriteBuffer()
        self._flow = WriteFlowControl(self._report_flow_error)
        self._empty_waiter: asyncio.Future[None] | None = None  # set while sendfile runs
        self._server = server
        self._extra["socket"] = asyncio.trsock.TransportSocket(sock)
        self._extra["sockname"] = sockname(sock)
        if "peername" not in self._extra:
            self._extra["peername"] = peername(sock)
        _set_nodelay(sock)
        io.claim(self._fd, self)
        if server is not None:
            server._attach(self)
        loop.call_soon(protocol.connection_made, self)
        # Read only once connection_made() has run, and wake the creator after both.
        loop.call_soon(self._start, waiter)

    def __repr__(self) -> str:
        return socket_transport_repr(self, self.get_write_buffer_size)

    def __del__(self, _warn: Callable[..., None] = warnings.warn) -> None:
        if self._file() is not None:
            super().__del__(_warn)  # the ResourceWarning, then the socket is closed
            server = getattr(self, "_server", None)
            if server is not None:
                server._detach(self)

    def _file(self) -> socket.socket | None:
        # getattr: __init__ may have failed before the slots were set.
        return getattr(self, "_sock", None)

    def _forget_file(self) -> None:
        self._sock = None

    def _has_pending_output(self) -> bool:
        return bool(self._buffer)

    def _clear_pending_output(self) -> None:
        self._buffer.clear()

    def _start(self, waiter: asyncio.Future[None] | None) -> None:
        self._start_reading()
        if waiter is not None and not waiter.cancelled():
            waiter.set_result(None)

    def _start_reading(self) -> None:
        # After eof_received() kept the transport open, nothing more will arrive.
        if self.is_reading() and not self._at_eof:
            self._io.add_reader(self._fd, self._read_ready)

    # -- protocol and state ---------------------------------------------------------------------

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol
        self._buffered_protocol = isinstance(protocol, asyncio.BufferedProtocol)

    def abort(self) -> None:
        """Lose the connection now; buffered bytes are dropped."""
        self._force_close(None)

    # -- reading --------------------------------------------------------------------------------

    def _read_ready(self) -> None:
        # The hot path: one call per readiness event, so both protocol kinds live in one method.
        sock = self._sock
        assert sock is not None
        if self._buffered_protocol:
            self._read_into_protocol(sock)
            return
        try:
            nbytes = sock.recv_into(self._recv_view)
        except _WOULD_BLOCK:
            return
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, "Fatal read error on socket transport")
            return
        if not nbytes:
            self._read_eof()
            return
        try:
            self._protocol.data_received(self._recv_view[:nbytes].tobytes())
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, "Fatal error: protocol.data_received() call failed.")

    def _read_into_protocol(self, sock: socket.socket) -> None:
        protocol = self._protocol
        try:
            buf = protocol.get_buffer(-1)
            if not len(buf):
                raise RuntimeError("get_buffer() returned an empty buffer")
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, "Fatal error: protocol.get_buffer() call failed.")
            return
        try:
            nbytes = sock.recv_into(buf)
        except _WOULD_BLOCK:
            return
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, "Fatal read error on socket transport")
            return
        if not nbytes:
            self._read_eof()
            return
        try:
            protocol.buffer_updated(nbytes)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, "Fatal error: protocol.buffer_updated() call failed.")

    def _read_eof(self) -> None:
        if self._io.loop.get_debug():
            logger.debug("%r received EOF", self)
        try:
            keep_open = self._protocol.eof_received()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, "Fatal error: protocol.eof_received() call failed.")
            return
        if keep_open:
            # Half-closed: the protocol may still write, but nothing more will arrive.
            self._at_eof = True
            self._io.remove_reader(self._fd)
        else:
            self.close()

    # -- writing --------------------------------------------------------------------------------

    def write(self, data: Data) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(
                f"data argument must be a bytes-like object, not {type(data).__name__!r}"
            )
        if self._eof:
            raise RuntimeError("Cannot call write() after write_eof()")
        if self._empty_waiter is not None:
            raise RuntimeError("unable to write; sendfile is in progress")
        if not data:
            return
        if self._state is TransportState.CLOSED:
            self._note_lost_write()
            return
        buffer = self._buffer
        if not buffer.size:
            sock = self._sock
            assert sock is not None
            try:
                sent = sock.send(data)
            except _WOULD_BLOCK:
                sent = 0
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._fatal_error(exc, "Fatal write error on socket transport")
                return
            if sent == len(data) and type(data) is not memoryview:
                return  # the common case: the OS took it all, nothing to remember
            buffer.append(data, sent)
            if not buffer:
                return  # a memoryview the OS took whole
            self._io.add_writer(self._fd, self._write_ready)
        else:
            buffer.append(data)
        self._flow.after_growth(self._protocol, buffer.size)

    def writelines(self, list_of_data: Iterable[Data]) -> None:
        if not _OWN_WRITELINES:
            self.write(b"".join(list_of_data))  # 3.11: its errors are write()'s and join()'s
            return
        if self._eof:
            raise RuntimeError("Cannot call writelines() after write_eof()")
        if self._empty_waiter is not None:
            raise RuntimeError("unable to writelines; sendfile is in progress")
        chunks = [memoryview(data) for data in list_of_data]  # 3.12+: memoryview()'s TypeError
        if not chunks:
            return
        if self._state is TransportState.CLOSED:
            self._note_lost_write()
            return
        was_empty = not self._buffer
        self._buffer.extend(chunks)
        if was_empty and self._buffer:
            if not self._send_buffered():
                return  # the send failed and the transport is closed
            if self._buffer:
                self._io.add_writer(self._fd, self._write_ready)
        self._flow.after_growth(self._protocol, self._buffer.size)

    def write_eof(self) -> None:
        if self._state is not TransportState.OPEN or self._eof:
            return
        self._eof = True
        if not self._buffer:
            assert self._sock is not None
            self._sock.shutdown(socket.SHUT_WR)

    def can_write_eof(self) -> bool:
        return True

    def get_write_buffer_size(self) -> int:
        return self._buffer.size

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._flow.get_limits()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._flow.set_limits(high, low)
        self._flow.after_growth(self._protocol, self._buffer.size)

    def _write_ready(self) -> None:
        if not self._send_buffered():
            return
        buffer = self._buffer
        self._flow.after_shrink(self._protocol, buffer.size)  # resume_writing() may write more
        if buffer or self._state is TransportState.CLOSED:
            return
        self._io.remove_writer(self._fd)
        if self._empty_waiter is not None and not self._empty_waiter.done():
            self._empty_waiter.set_result(None)
        if self._state is TransportState.CLOSING:
            self._state = TransportState.CLOSED
            self._call_connection_lost(None)
        elif self._eof:
            assert self._sock is not None
            self._sock.shutdown(socket.SHUT_WR)

    def _send_buffered(self) -> bool:
        """One send of the buffer's head; False if the transport failed and was closed."""
        buffer = self._buffer
        sock = self._sock
        assert sock is not None
        try:
            if _IOV_MAX and buffer.chunk_count() > 1:
                sent = sock.sendmsg(buffer.head_chunks(_IOV_MAX))
            else:
                sent = sock.send(buffer.head())
        except _WOULD_BLOCK:
            return True
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._io.remove_writer(self._fd)
            buffer.clear()
            self._fatal_error(exc, "Fatal write error on socket transport")
            if self._empty_waiter is not None and not self._empty_waiter.done():
                self._empty_waiter.set_exception(exc)
            return False
        buffer.advance(sent)
        return True

    def _note_lost_write(self) -> None:
        # asyncio counts the loss itself as the first, so it warns from the fifth write on.
        self._lost_writes += 1
        if self._lost_writes >= LOG_THRESHOLD_FOR_CONNLOST_WRITES:
            logger.warning("socket.send() raised exception.")

    # -- sendfile support (core/_sendfile.py) ---------------------------------------------------

    def _begin_sendfile(self) -> asyncio.Future[None]:
        """Block write() until _end_sendfile(); the future is done once the buffer is empty."""
        if self._empty_waiter is not None:
            raise RuntimeError("Empty waiter is already set")
        waiter: asyncio.Future[None] = self._io.loop.create_future()
        self._empty_waiter = waiter
        if not self._buffer:
            waiter.set_result(None)
        return waiter

    def _end_sendfile(self) -> None:
        self._empty_waiter = None

    # -- losing the connection ------------------------------------------------------------------

    def _call_connection_lost(self, exc: BaseException | None) -> None:
        try:
            super()._call_connection_lost(exc)
        finally:
            server = self._server
            if server is not None:
                self._server = None
                server._detach(self)
            waiter = self._empty_waiter
            if waiter is not None and not waiter.done():
                waiter.set_exception(ConnectionError("Connection is closed by peer"))


def _set_nodelay(sock: socket.socket) -> None:
    # asyncio turns Nagle off on TCP transports: small writes go out without waiting for ACKs.
    # Like asyncio, only for sockets whose proto says TCP (getaddrinfo and accept() set it).
    if (
        sock.family in (socket.AF_INET, socket.AF_INET6)
        and sock.type == socket.SOCK_STREAM
        and sock.proto == socket.IPPROTO_TCP
    ):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
