"""loop.sendfile(transport, file): os.sendfile() on a socket transport, else read + write.

The native path (transports whose ``_sendfile_compatible`` is TRY_NATIVE, i.e. SocketTransport):
stop reading, wait until the transport's write buffer is empty (write() raises meanwhile, as in
asyncio: "unable to write; sendfile is in progress"), then hand the socket to the same
os.sendfile() loop sock_sendfile() uses (core/_sock_sendfile.py), waiting for writability through
the transport's own LoopIO because the loop's public add_writer() refuses an fd a transport owns.
If os.sendfile() cannot start (not a regular file, no os.sendfile), SendfileNotAvailableError
sends us to the fallback, unless the caller disabled it.

The fallback reads the file in the default executor and write()s it, waiting whenever the
transport asks its protocol to pause writing. To see those calls it puts a small protocol of its
own in front of the user's for the duration (asyncio does the same), with reading paused, and
puts the user's protocol back at the end, forwarding a connection_lost that happens meanwhile.

Which transports take which path is a class attribute, ``_sendfile_compatible``, holding a
``SendfileMode``; transports without it (datagram, pipes) are refused with asyncio's message.
"""

from __future__ import annotations

import asyncio
import enum
from typing import TYPE_CHECKING, Any

from ._sock_sendfile import check_sendfile_params, sendfile_native

if TYPE_CHECKING:
    from typing import IO

    from .transports._stream import SocketTransport

# asyncio's block size for the transport fallback (smaller than sock_sendfile's: each block
# becomes one write() into the transport's buffer).
_FALLBACK_BLOCK = 16 * 1024


class SendfileMode(enum.Enum):
    UNSUPPORTED = "unsupported"
    TRY_NATIVE = "try native"  # os.sendfile() on the socket, fallback if that cannot start
    FALLBACK = "fallback"  # read + write only (TLS transports)


async def sendfile(
    loop: asyncio.AbstractEventLoop,
    transport: asyncio.WriteTransport,
    file: IO[bytes],
    offset: int = 0,
    count: int | None = None,
    *,
    fallback: bool = True,
) -> int:
    """loop.sendfile(): the number of bytes sent; the file position follows them."""
    if transport.is_closing():
        raise RuntimeError("Transport is closing")
    mode = getattr(transport, "_sendfile_compatible", SendfileMode.UNSUPPORTED)
    if mode is SendfileMode.UNSUPPORTED:
        raise RuntimeError(f"sendfile is not supported for transport {transport!r}")
    if mode is SendfileMode.TRY_NATIVE:
        try:
            return await _send_native(transport, file, offset, count)  # type: ignore[arg-type]
        except asyncio.SendfileNotAvailableError:
            if not fallback:
                raise
    if not fallback:
        raise RuntimeError(
            f"fallback is disabled and native sendfile is not supported for transport {transport!r}"
        )
    return await _send_by_writing(loop, transport, file, offset, count)


async def _send_native(
    transport: SocketTransport, file: IO[bytes], offset: int, count: int | None
) -> int:
    resume_reading = transport.is_reading()
    transport.pause_reading()
    await transport._begin_sendfile()  # the buffered bytes go first
    try:
        sock = transport._sock
        if sock is None:
            raise ConnectionError("Connection is closed by peer")
        check_sendfile_params(sock, file, offset, count)
        io = transport._io

        async def wait_writable(fd: int) -> None:
            waiter: asyncio.Future[None] = io.loop.create_future()
            io.add_writer(fd, lambda: None if waiter.done() else waiter.set_result(None))
            try:
                await waiter
            finally:
                io.remove_writer(fd)

        return await sendfile_native(wait_writable, sock, file, offset, count)
    finally:
        transport._end_sendfile()
        if resume_reading:
            transport.resume_reading()


async def _send_by_writing(
    loop: asyncio.AbstractEventLoop,
    transport: asyncio.WriteTransport,
    file: Any,  # IO[bytes] with readinto(), which typing's IO does not declare
    offset: int,
    count: int | None,
) -> int:
    if offset:
        file.seek(offset)
    block = min(count, _FALLBACK_BLOCK) if count else _FALLBACK_BLOCK
    buf = bytearray(block)
    total_sent = 0
    gate = _WriteGate(transport)
    try:
        while True:
            if count:
                block = min(count - total_sent, block)
                if block <= 0:
                    return total_sent
            view = memoryview(buf)[:block]
            read = await loop.run_in_executor(None, file.readinto, view)
            if not read:
                return total_sent
            await gate.wait_writable()
            transport.write(view[:read])  # the transport copies it: buf is reused
            total_sent += read
    finally:
        if total_sent > 0 and hasattr(file, "seek"):
            file.seek(offset + total_sent)
        gate.restore()


class _WriteGate(asyncio.Protocol):
    """Stands in for the user's protocol during a fallback sendfile, to see pause_writing()."""

    def __init__(self, transport: asyncio.WriteTransport) -> None:
        self._transport: Any = transport
        self._user_protocol = transport.get_protocol()
        self._resume_reading = transport.is_reading()  # type: ignore[attr-defined]
        flow = getattr(transport, "_flow", None)
        self._user_paused = bool(getattr(flow, "paused", False))
        self._lost = False
        self._ready: asyncio.Future[None] | None = None
        transport.pause_reading()  # type: ignore[attr-defined]
        transport.set_protocol(self)
        if self._user_paused:
            self.pause_writing()

    async def wait_writable(self) -> None:
        if self._lost or self._transport.is_closing():
            raise ConnectionError("Connection closed by peer")
        if self._ready is not None:
            await self._ready

    def pause_writing(self) -> None:
        if self._ready is None:
            self._ready = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._ready is not None:
            if not self._ready.done():
                self._ready.set_result(None)
            self._ready = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        raise RuntimeError("Invalid state: connection should have been established already.")

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        if self._ready is not None and not self._ready.done():
            # Losing the connection mid-file is an error even when it ended cleanly.
            self._ready.set_exception(exc or ConnectionError("Connection is closed by peer"))
        self._user_protocol.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        raise RuntimeError("Invalid state: reading should be paused")

    def eof_received(self) -> bool | None:
        raise RuntimeError("Invalid state: reading should be paused")

    def restore(self) -> None:
        transport = self._transport
        transport.set_protocol(self._user_protocol)
        ready = self._ready
        if ready is not None:
            self._ready = None
            if not ready.done():
                ready.cancel()  # nobody waits on it once the user's protocol is back
            elif not ready.cancelled():
                ready.exception()  # the error reached the caller another way; mark it seen
        if self._lost:
            return
        if self._resume_reading:
            transport.resume_reading()
        if self._user_paused and not getattr(getattr(transport, "_flow", None), "paused", True):
            self._user_protocol.resume_writing()
