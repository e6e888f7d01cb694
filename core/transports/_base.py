"""FdTransport: the lifecycle every fd-backed transport shares (socket, datagram, pipe ends).

What lives here is only what the transports do identically: the protocol slot, is_closing(),
close() that flushes first, _force_close(), the fatal-error split (quiet ending vs the loop's
exception handler), connection_lost() and the release of the fd, the unclosed-transport
ResourceWarning, and (``ReadingFdTransport``) pause/resume of reading. What differs between
kinds is a small hook a subclass overrides: where its pending output lives, which errors are a
quiet ending, how to reach its file object.

The read and write hot paths (``_read_ready``, ``write``, ``sendto``, ``_write_ready``) stay in
the subclasses and call nothing here, so they cost exactly what they did before this class.

These classes subclass asyncio.BaseTransport and come first in a transport's bases, before the
asyncio public class (``asyncio.Transport``, ``asyncio.DatagramTransport``, ...), so their
methods win over asyncio's NotImplementedError stubs.
``abort()`` is left to the subclasses: a read pipe has none in asyncio, and neither may ours.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._fdio import LoopIO, TransportState

logger = logging.getLogger("asyncio")


class FdTransport(asyncio.BaseTransport):
    """Lifecycle of a transport over one fd that it owns in ``LoopIO``."""

    # No slots of our own: SocketTransport keeps its __slots__ (no __dict__), the others have
    # a __dict__ anyway. Hidden from mypy, which would read () as "no attributes at all".
    if not TYPE_CHECKING:
        __slots__ = ()

    # Set by the subclass's __init__ (instance attributes, or slots in SocketTransport).
    _io: LoopIO
    _loop: asyncio.AbstractEventLoop | None  # None once the connection is lost
    _protocol: Any  # None once the connection is lost
    _state: TransportState
    _fd: int

    # -- hooks ----------------------------------------------------------------------------------

    def _file(self) -> Any:
        """The socket or pipe object; None once closed or when __init__ did not get that far."""
        raise NotImplementedError

    def _forget_file(self) -> None:
        """Drop the reference to the (already closed) socket or pipe object."""
        raise NotImplementedError

    def _has_pending_output(self) -> bool:
        """Whether bytes or datagrams are still queued to go out."""
        return False

    def _clear_pending_output(self) -> None:
        """Drop what is queued to go out (abort and fatal errors)."""

    def _is_quiet_error(self, exc: BaseException) -> bool:
        # An OSError is the peer or the network ending it: connection_lost(exc) tells the
        # protocol, and only debug mode logs it. Anything else also goes to the handler.
        return isinstance(exc, OSError)

    # -- protocol and state ---------------------------------------------------------------------

    def __del__(self, _warn: Callable[..., None] = warnings.warn) -> None:
        file = self._file()
        if file is not None:
            _warn(f"unclosed transport {self!r}", ResourceWarning, source=self)
            file.close()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._protocol  # type: ignore[no-any-return]

    def is_closing(self) -> bool:
        return self._state is not TransportState.OPEN

    def close(self) -> None:
        """Stop reading; send what is queued, then lose the connection (asyncio semantics)."""
        if self._state is not TransportState.OPEN:
            return
        self._state = TransportState.CLOSING
        self._io.remove_reader(self._fd)
        if not self._has_pending_output():
            self._state = TransportState.CLOSED
            self._io.remove_writer(self._fd)
            self._io.loop.call_soon(self._call_connection_lost, None)

    def _report_flow_error(self, message: str, exc: BaseException) -> None:
        self._io.loop.call_exception_handler(
            {"message": message, "exception": exc, "transport": self, "protocol": self._protocol}
        )

    # -- losing the connection ------------------------------------------------------------------

    def _fatal_error(self, exc: BaseException, message: str) -> None:
        if self._is_quiet_error(exc):
            if self._io.loop.get_debug():
                logger.debug("%r: %s", self, message, exc_info=True)
        else:
            self._io.loop.call_exception_handler(
                {
                    "message": message,
                    "exception": exc,
                    "transport": self,
                    "protocol": self._protocol,
                }
            )
        self._force_close(exc)

    def _force_close(self, exc: BaseException | None) -> None:
        """Lose the connection now: queued output is dropped, connection_lost(exc) is soon."""
        if self._state is TransportState.CLOSED:
            return
        if self._has_pending_output():
            self._clear_pending_output()
            self._io.remove_writer(self._fd)
        if self._state is TransportState.OPEN:
            self._io.remove_reader(self._fd)
        self._state = TransportState.CLOSED
        self._io.loop.call_soon(self._call_connection_lost, exc)

    def _call_connection_lost(self, exc: BaseException | None) -> None:
        try:
            self._protocol.connection_lost(exc)
        finally:
            file = self._file()
            assert file is not None
            file.close()
            self._forget_file()
            self._protocol = None
            self._loop = None
            self._io.release(self._fd, self)


class ReadingFdTransport(FdTransport):
    """FdTransport plus asyncio's is_reading/pause_reading/resume_reading."""

    if not TYPE_CHECKING:
        __slots__ = ()

    _reading_paused: bool  # pause_reading() is in effect

    def _read_ready(self) -> None:
        """The reader callback; each subclass has its own hot path."""
        raise NotImplementedError

    def _start_reading(self) -> None:
        if self.is_reading():
            self._io.add_reader(self._fd, self._read_ready)

    def is_reading(self) -> bool:
        return self._state is TransportState.OPEN and not self._reading_paused

    def pause_reading(self) -> None:
        if not self.is_reading():
            return
        self._reading_paused = True
        self._io.remove_reader(self._fd)
        if self._io.loop.get_debug():
            logger.debug("%r pauses reading", self)

    def resume_reading(self) -> None:
        if self._state is not TransportState.OPEN or not self._reading_paused:
            return
        self._reading_paused = False
        self._start_reading()
        if self._io.loop.get_debug():
            logger.debug("%r resumes reading", self)


def socket_transport_repr(transport: FdTransport, write_buffer_size: Callable[[], int]) -> str:
    """The repr of the socket transports (stream and datagram), in asyncio's selector form."""
    info = [type(transport).__name__]
    sock = transport._file()
    if sock is None:
        info.append("closed")
    elif transport._state is not TransportState.OPEN:
        # asyncio: "closing" from close() until the socket is released, including the moment
        # between close() and connection_lost() (what a dropped StreamWriter's warning shows).
        info.append("closing")
    info.append(f"fd={transport._fd}")
    loop = transport._loop
    if sock is not None and loop is not None and not loop.is_closed():
        io, fd = transport._io, transport._fd
        info.append("read=polling" if io.is_reading(fd) else "read=idle")
        state = "polling" if io.is_writing(fd) else "idle"
        info.append(f"write=<{state}, bufsize={write_buffer_size()}>")
    return "<{}>".format(" ".join(info))


def sockname(sock: socket.socket) -> Any:
    """``sock.getsockname()``, or None when the OS cannot say (the socket's extra info)."""
    try:
        return sock.getsockname()
    except OSError:
        return None


def peername(sock: socket.socket) -> Any:
    """``sock.getpeername()``, or None when not connected (the socket's extra info)."""
    try:
        return sock.getpeername()
    except OSError:
        return None
