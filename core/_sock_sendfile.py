"""loop.sock_sendfile(): argument checks, the os.sendfile() path and the read + send fallback.

The native path calls os.sendfile() with an explicit offset, so the kernel never moves the
file position; we set it ourselves at the end (os.lseek to the byte after the last one sent), as
asyncio does. Between two successful calls it waits for the socket to be writable again, like
asyncio, so one large file cannot monopolize the loop when the peer reads as fast as we send.

If os.sendfile() fails before a single byte went out (the file is not a regular file, the
socket type is unsupported...), the error becomes SendfileNotAvailableError and the caller may
fall back to reading the file in the default executor and sending with sock_sendall().

asyncio quirks we keep, because callers can observe them:
- a file whose fstat() size is 0 (an empty file, but also a pipe) with no *count* sends nothing
  and returns 0;
- the fallback seeks the file back even when it is not seekable, so a pipe with *count* raises
  io.UnsupportedOperation after sending.
One place where we are more regular than asyncio: a cancelled native send always leaves the
file position after the bytes sent. asyncio does so only when the socket happened to be
writable in the iteration of the cancellation, and otherwise leaves the position untouched.
"""

from __future__ import annotations

import asyncio
import errno
import io
import os
import socket
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from typing import IO

# asyncio's read size for the fallback (asyncio.constants.SENDFILE_FALLBACK_READBUFFER_SIZE).
_FALLBACK_CHUNK = 256 * 1024

# 3.13 caps each os.sendfile() call so the size fits a C ssize_t on 32-bit builds (gh-82500,
# not backported); on 3.11 and 3.12 a count of 2**63 or more raises OverflowError instead.
_MAX_BLOCK: int | None = sys.maxsize // 2 + 1 if sys.version_info >= (3, 13) else None

_WOULD_BLOCK = (BlockingIOError, InterruptedError)


def check_sendfile_params(sock: socket.socket, file: Any, offset: Any, count: Any) -> None:
    """Raise asyncio's TypeError/ValueError for arguments sock_sendfile() refuses.

    The checks run in asyncio's order (file mode, socket type, count, offset): with several bad
    arguments, the same one is reported.
    """
    if "b" not in getattr(file, "mode", "b"):
        raise ValueError("file should be opened in binary mode")
    if sock.type != socket.SOCK_STREAM:
        raise ValueError("only SOCK_STREAM type sockets are supported")
    if count is not None:
        if not isinstance(count, int):
            raise TypeError(f"count must be a positive integer (got {count!r})")
        if count <= 0:
            raise ValueError(f"count must be a positive integer (got {count!r})")
    if not isinstance(offset, int):
        raise TypeError(f"offset must be a non-negative integer (got {offset!r})")
    if offset < 0:
        raise ValueError(f"offset must be a non-negative integer (got {offset!r})")


async def sendfile_native(
    wait_writable: Callable[[int], Awaitable[None]],
    sock: socket.socket,
    file: IO[bytes],
    offset: int,
    count: int | None,
) -> int:
    """Send with os.sendfile(); SendfileNotAvailableError if that cannot even start."""
    if not hasattr(os, "sendfile"):
        raise asyncio.SendfileNotAvailableError("os.sendfile() is not available")
    try:
        fileno = file.fileno()
    except (AttributeError, io.UnsupportedOperation) as exc:
        raise asyncio.SendfileNotAvailableError("not a regular file") from exc
    try:
        fsize = os.fstat(fileno).st_size
    except OSError as exc:
        raise asyncio.SendfileNotAvailableError("not a regular file") from exc
    blocksize = count if count else fsize
    if not blocksize:
        return 0  # see the module docstring: asyncio sends nothing here, not even from a pipe
    fd = sock.fileno()
    total_sent = 0
    try:
        while True:
            if count:
                blocksize = count - total_sent
            if _MAX_BLOCK is not None:
                blocksize = min(blocksize, _MAX_BLOCK)
            try:
                sent = os.sendfile(fd, fileno, offset, blocksize)
            except _WOULD_BLOCK:
                pass
            except OSError as exc:
                if total_sent == 0:
                    # Nothing went out yet: most likely the file cannot be sendfile()d (not
                    # mmap-able), so a plain read + send may still work.
                    raise asyncio.SendfileNotAvailableError("os.sendfile call failed") from exc
                if exc.errno == errno.ENOTCONN and type(exc) is not ConnectionError:
                    # The peer went away mid-transfer; asyncio reports that uniformly as a
                    # ConnectionError, with its arguments in this (unusual) order.
                    raise ConnectionError("socket is not connected", errno.ENOTCONN) from exc
                raise
            else:
                if sent == 0:
                    return total_sent  # end of file
                offset += sent
                total_sent += sent
                if total_sent == count:
                    return total_sent  # asyncio waits one more writable event first; no need
            await wait_writable(fd)
    finally:
        # On success, on error after some bytes, and on cancellation: the position follows the
        # bytes that went out, so a caller can resume from file.tell().
        if total_sent:
            os.lseek(fileno, offset, os.SEEK_SET)


async def sendfile_fallback(
    loop: asyncio.AbstractEventLoop,
    sock_sendall: Callable[[socket.socket, memoryview], Awaitable[None]],
    sock: socket.socket,
    file: IO[bytes],
    offset: int,
    count: int | None,
) -> int:
    """Send by reading *file* in the default executor and calling *sock_sendall*."""
    if offset:
        file.seek(offset)
    chunk = min(count, _FALLBACK_CHUNK) if count else _FALLBACK_CHUNK
    buf = bytearray(chunk)
    total_sent = 0
    try:
        while True:
            if count:
                chunk = min(count - total_sent, chunk)
                if chunk <= 0:
                    break
            view = memoryview(buf)[:chunk]
            # A regular file read can block on slow storage, hence the executor. (typeshed's
            # IO[bytes] lacks readinto(), which every binary file object has.)
            readinto = file.readinto  # type: ignore[attr-defined]  # see above
            read = await loop.run_in_executor(None, readinto, view)
            if not read:
                break  # end of file
            await sock_sendall(sock, view[:read])
            total_sent += read
        return total_sent
    finally:
        if total_sent > 0 and hasattr(file, "seek"):
            file.seek(offset + total_sent)
