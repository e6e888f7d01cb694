"""ReadPipeTransport and WritePipeTransport: one end of a pipe, FIFO, socket or character device.

How this works
--------------
These are the transports of ``loop.connect_read_pipe`` / ``connect_write_pipe`` (asyncio's Unix
pipe transports). Each takes a file object, checks with fstat() that the fd can be polled (a
regular file cannot: epoll refuses it), sets O_NONBLOCK on it, and closes the file object when
the connection is lost. O_NONBLOCK belongs to the open file description, so a child process
sharing that description sees it too; asyncio does the same.

Reading: one read of up to ``max_size`` bytes per readiness event, into the loop's shared
receive buffer (see _fdio.recv_view), and the protocol gets bytes of what arrived; zero bytes is
end of file and leads to eof_received() and then connection_lost(None), called soon, in order.

Writing: write() tries os.write() at once when nothing is buffered; what the pipe does not take
is buffered, and a writer drains the buffer with os.writev(). Flow control is asyncio's: the
protocol is paused above the high mark and, as asyncio does for pipes, resumed only once the
buffer is empty. The writer stays registered when the buffer empties, and goes when a
writability event finds nothing to send: the resumed producer usually writes again before the
next poll, and then refills the buffer without an epoll_ctl() pair per refill (measured in
docs/performance.md, "Subprocesses"). repr() says "polling" only while bytes wait, as asyncio's
does. The peer closing its end is noticed without writing: for FIFOs and sockets the
transport also watches its fd for *reading*, which a write end only reports (as an error or
hang-up) when the other end is gone. If data was still buffered then, connection_lost() gets a
BrokenPipeError; an EPIPE from os.write() itself ends the same way.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import stat
from collections.abc import Callable
from typing import Any

from ._base import FdTransport, ReadingFdTransport
from ._buffer import WriteBuffer
from ._fdio import (
    RECV_BUFFER_SIZE,
    LoopIO,
    TransportState,
    recv_view,
    set_result_unless_cancelled,
)
from ._flow import WriteFlowControl

logger = logging.getLogger("asyncio")

# asyncio logs a warning once this many writes were attempted after the pipe was lost.
LOG_THRESHOLD_FOR_CONNLOST_WRITES = 5

_WOULD_BLOCK = (BlockingIOError, InterruptedError)

# At most this many buffers per writev(); Linux and macOS both allow 1024 (IOV_MAX).
_WRITEV_MAX_BUFFERS = 1024


class ReadPipeTransport(ReadingFdTransport, asyncio.ReadTransport):
    """The read end: data_received() per chunk, then eof_received() and connection_lost()."""

    max_size = RECV_BUFFER_SIZE  # bytes read per readiness event

    _pipe: Any = None  # set only once the fd passed its checks; __del__ relies on it

    def __init__(
        self,
        io: LoopIO,
        pipe: Any,
        protocol: asyncio.BaseProtocol,
        waiter: asyncio.Future[None] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__({**(extra or {}), "pipe": pipe})
        fileno = pipe.fileno()
        mode = os.fstat(fileno).st_mode
        if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode)):
            raise ValueError("Pipe transport is for pipes/sockets only.")
        os.set_blocking(fileno, False)
        self._io = io
        self._loop: asyncio.AbstractEventLoop | None = io.loop
        self._recv_view = recv_view(io.loop)
        self._pipe = pipe
        self._fd = fileno
        self._protocol: Any = protocol
        self._state = TransportState.OPEN
        self._reading_paused = False
        io.claim(fileno, self)
        io.loop.call_soon(protocol.connection_made, self)
        io.loop.call_soon(self._start_reading)  # only once connection_made() has run
        if waiter is not None:
            io.loop.call_soon(set_result_unless_cancelled, waiter)

    def __repr__(self) -> str:
        return _pipe_repr(self, self._polling_info)

    def _polling_info(self) -> list[str]:
        return ["polling" if self._io.is_reading(self._fd) else "idle"]

    def _file(self) -> Any:
        return self._pipe

    def _forget_file(self) -> None:
        self._pipe = None

    def close(self) -> None:
        # Nothing to flush: the reader goes and connection_lost(None) follows.
        if self._state is TransportState.OPEN:
            self._force_close(None)

    def _read_ready(self) -> None:
        view = self._recv_view
        try:
            nbytes = os.readv(self._fd, (view[: self.max_size],))
        except _WOULD_BLOCK:
            pass
        except OSError as exc:
            self._fatal_error(exc, "Fatal read error on pipe transport")
        else:
            if nbytes:
                self._protocol.data_received(bytes(view[:nbytes]))
            else:
                self._end_of_file()

    def _end_of_file(self) -> None:
        loop = self._io.loop
        if loop.get_debug():
            logger.info("%r was closed by peer", self)
        self._state = TransportState.CLOSED
        self._io.remove_reader(self._fd)
        loop.call_soon(self._protocol.eof_received)
        loop.call_soon(self._call_connection_lost, None)

    def _is_quiet_error(self, exc: BaseException) -> bool:
        # EIO is how a pty reports that its other side closed: an ending, not a bug to report.
        return isinstance(exc, OSError) and exc.errno == errno.EIO


class WritePipeTransport(FdTransport, asyncio.WriteTransport):
    """The write end: buffered writes with flow control, write_eof() by closing the fd."""

    _pipe: Any = None  # set only once the fd passed its checks; __del__ relies on it

    def __init__(
        self,
        io: LoopIO,
        pipe: Any,
        protocol: asyncio.BaseProtocol,
        waiter: asyncio.Future[None] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__({**(extra or {}), "pipe": pipe})
        fileno = pipe.fileno()
        mode = os.fstat(fileno).st_mode
        is_socket = stat.S_ISSOCK(mode)
        is_fifo = stat.S_ISFIFO(mode)
        if not (stat.S_ISCHR(mode) or is_fifo or is_socket):
            raise ValueError("Pipe transport is only for pipes, sockets and character devices")
        os.set_blocking(fileno, False)
        self._io = io
        self._loop: asyncio.AbstractEventLoop | None = io.loop
        self._pipe = pipe
        self._fd = fileno
        self._protocol: Any = protocol
        self._state = TransportState.OPEN
        self._lost_writes = 0  # writes refused since the pipe closed, for asyncio's warning
        self._buffer = WriteBuffer()
        self._flow = WriteFlowControl(self._report_flow_error)
        io.claim(fileno, self)
        loop = io.loop
        loop.call_soon(protocol.connection_made, self)
        # A character device (a tty) never reports its reader going away; only watch the rest.
        if is_socket or is_fifo:
            loop.call_soon(self._watch_for_peer_close)
        if waiter is not None:
            loop.call_soon(set_result_unless_cancelled, waiter)

    def __repr__(self) -> str:
        return _pipe_repr(self, self._polling_info)

    def _polling_info(self) -> list[str]:
        # asyncio polls exactly while bytes wait; our writer may linger a moment longer.
        polling = "polling" if self._buffer else "idle"
        return [polling, f"bufsize={self.get_write_buffer_size()}"]

    def _file(self) -> Any:
        return self._pipe

    def _forget_file(self) -> None:
        self._pipe = None

    # -- writing --------------------------------------------------------------------------------

    def write(self, data: Any) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            # asyncio checks with an assert here, so a str is an AssertionError, not TypeError.
            raise AssertionError(repr(data))
        nbytes = memoryview(data).nbytes  # bytes, not items, whatever the buffer's format
        if not nbytes:
            return
        if self._state is not TransportState.OPEN:
            if self._lost_writes >= LOG_THRESHOLD_FOR_CONNLOST_WRITES:
                logger.warning("pipe closed by peer or os.write(pipe, data) raised exception.")
            self._lost_writes += 1
            return
        written = 0
        if not self._buffer:
            try:
                written = os.write(self._fd, data)
            except _WOULD_BLOCK:
                pass
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._lost_writes += 1
                self._fatal_error(exc, "Fatal write error on pipe transport")
                return
            if written == nbytes:
                return
            if not self._io.is_writing(self._fd):  # it may still be there from the last drain
                self._io.add_writer(self._fd, self._write_ready)
        self._buffer.append(data, written)  # copies what the caller could still change
        self._flow.after_growth(self._protocol, len(self._buffer))

    def _write_ready(self) -> None:
        buffer = self._buffer
        if not buffer:
            # The writer outlived the last drain and nothing came: now it goes.
            self._io.remove_writer(self._fd)
            return
        try:
            written = os.writev(self._fd, buffer.head_chunks(_WRITEV_MAX_BUFFERS))
        except _WOULD_BLOCK:
            return
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            buffer.clear()
            self._lost_writes += 1
            self._io.remove_writer(self._fd)
            self._fatal_error(exc, "Fatal write error on pipe transport")
            return
        buffer.advance(written)
        if buffer:
            return
        # The writer stays: the resumed producer usually writes again before the next poll.
        # asyncio resumes a paused pipe protocol only once the buffer is empty.
        self._flow.after_shrink(self._protocol, 0)  # may call write() again
        if self._state is TransportState.CLOSING and not buffer:
            self._state = TransportState.CLOSED
            self._io.remove_writer(self._fd)
            self._io.remove_reader(self._fd)
            self._call_connection_lost(None)

    def get_write_buffer_size(self) -> int:
        return len(self._buffer)

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._flow.get_limits()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._flow.set_limits(high, low)
        self._flow.after_growth(self._protocol, len(self._buffer))

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        if self._state is not TransportState.OPEN:
            return
        assert self._pipe is not None
        self._state = TransportState.CLOSING
        if not self._buffer:
            self._state = TransportState.CLOSED
            self._io.remove_writer(self._fd)  # it may linger after the last drain
            self._io.remove_reader(self._fd)
            self._io.loop.call_soon(self._call_connection_lost, None)

    # -- closing --------------------------------------------------------------------------------

    def close(self) -> None:
        # Closing the fd is all a write end can say: close() is write_eof().
        if self._pipe is not None and self._state is TransportState.OPEN:
            self.write_eof()

    def abort(self) -> None:
        self._force_close(None)

    def _watch_for_peer_close(self) -> None:
        if self._state is not TransportState.CLOSED:
            self._io.add_reader(self._fd, self._peer_closed)

    def _peer_closed(self) -> None:
        if self._io.loop.get_debug():
            logger.info("%r was closed by peer", self)
        # Bytes still buffered can never arrive now: report them lost, as EPIPE would.
        self._force_close(BrokenPipeError() if self._buffer else None)

    def _force_close(self, exc: BaseException | None) -> None:
        # Unlike the base, the reader goes in CLOSING too: it watches for the peer closing.
        if self._state is TransportState.CLOSED:
            return  # connection_lost() is already on its way
        self._state = TransportState.CLOSED
        self._io.remove_writer(self._fd)  # also when the buffer is empty: it may linger
        self._buffer.clear()
        self._io.remove_reader(self._fd)
        self._io.loop.call_soon(self._call_connection_lost, exc)


def _pipe_repr(transport: FdTransport, polling_info: Callable[[], list[str]]) -> str:
    """asyncio's pipe transport repr; ``polling_info`` is asked only while the loop is open."""
    info = [type(transport).__name__]
    pipe = transport._file()
    if pipe is None:
        info.append("closed")
    elif transport._state is not TransportState.OPEN:
        info.append("closing")
    info.append(f"fd={transport._fd}")
    loop = transport._loop
    if pipe is not None and loop is not None and not loop.is_closed():
        info.extend(polling_info())
    elif pipe is not None:
        info.append("open")
    return "<{}>".format(" ".join(info))
