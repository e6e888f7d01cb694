"""The loop's sock_* coroutines, built on reader/writer waiters.

How this works
--------------
Every operation first tries its syscall. On a busy connection the data (or the buffer space) is
usually already there, and then the call makes no future, no handle and no registration. Only on
BlockingIOError/InterruptedError does it park: it registers a reader or writer whose callback
wakes a future, awaits that future, and tries the syscall again. The registration is undone in
a ``finally`` clause, so a cancelled task has removed it by the time it sees CancelledError.

Waking the task and doing the syscall in the task (asyncio does the syscall inside the I/O
callback) means a task cancelled in the very iteration its socket became ready has consumed
nothing: no received bytes and no accepted connection are dropped on the floor.

sock_sendall is the exception: it keeps one writer registered for the whole transfer and sends
from the callback, because a multi-megabyte send to a slow reader would otherwise register and
unregister the fd once per chunk. sock_sendfile lives in _sock_sendfile.py.

Ownership: the loop keeps one reader and one writer per fd. A second sock_recv on a socket
replaces the first one's reader, and the first one then never completes (asyncio does the same).
When that superseded call is cancelled it must not remove the newer registration; asyncio tells
the two apart by its Handle, we by ``_readers``/``_writers``, which map each fd to the waiter that
registered it last. (A reader added with loop.add_reader() by someone else is invisible here;
asyncio would keep it, we would remove it. A private channel into the loop can close that gap.)

Only the loop's public API is used, so this runs on asyncio's own loop as well as on ours; the
four ``_add_*``/``_remove_*`` methods are the one place to change if the loop offers a faster way.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from typing import TYPE_CHECKING, Any

from ._addresses import needs_resolution, resolve_connect_address
from ._heap import raise_malloc_thresholds
from ._sock_sendfile import check_sendfile_params, sendfile_fallback, sendfile_native

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import IO

    from _typeshed import ReadableBuffer, WriteableBuffer

try:
    from ssl import SSLSocket as _SSLSocket
except ImportError:  # Python built without ssl: no socket can be an SSLSocket

    class _SSLSocket:  # type: ignore[no-redef]  # stand-in so the isinstance() check stays one line
        pass


# A module-level tuple: one global lookup per ``except``, no tuple built per call.
_WOULD_BLOCK = (BlockingIOError, InterruptedError)

# SO_ERROR values meaning a non-blocking connect is still under way: the errnos for which OSError()
# builds a BlockingIOError or InterruptedError, which asyncio keeps waiting on.
_CONNECT_PENDING = frozenset(
    {errno.EAGAIN, errno.EALREADY, errno.EWOULDBLOCK, errno.EINPROGRESS, errno.EINTR}
)


def _wake(fut: asyncio.Future[None]) -> None:
    # The registration outlives a cancelled future until its task runs the ``finally`` clause;
    # a readiness event in between must not call set_result() on a done future.
    if not fut.done():
        fut.set_result(None)


class SocketOps:
    """asyncio's sock_* coroutines for one event loop (AbstractEventLoop.sock_recv and others).

    Errors and their messages are asyncio's: TypeError for an ssl.SSLSocket, ValueError for a
    blocking socket in debug mode, the socket's own OSError otherwise.
    """

    __slots__ = ("_loop", "_readers", "_release_reader", "_release_writer", "_writers")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        # treadle's loop can *park* a registration instead of removing it (see _fdregistry.py):
        # a sock_recv loop then costs no epoll_ctl per message. Other loops remove as usual.
        self._release_reader: Callable[[int], object] = getattr(
            loop, "_park_reader", loop.remove_reader
        )
        self._release_writer: Callable[[int], object] = getattr(
            loop, "_park_writer", loop.remove_writer
        )
        # fd -> the waiter (future or job) whose callback is registered for it; see "Ownership".
        self._readers: dict[int, object] = {}
        self._writers: dict[int, object] = {}

    # --- fd registration: the only code that touches the loop's reader/writer tables ------------

    # ``fileobj`` is the socket itself where we have it: passing the object, not its number, is
    # what lets treadle's loop revive a parked registration safely (same object, same file).

    def _add_reader(
        self, fd: int, fileobj: Any, owner: object, callback: Callable[..., object], *args: Any
    ) -> None:
        # sock.recv(n) allocates n bytes and shrinks them to what arrived. With glibc's default
        # thresholds a recv(256 KiB) is an mmap, or a heap trimmed and refaulted, per read; once
        # they are raised (see _heap.py) it is a cheap heap allocation. asyncio's loop raises them
        # by accident on its first large read; we do it on purpose, when a sock_* call first
        # waits to read. Measured then (3.13): recv(256 KiB) 5.3-5.8 us per 1 KiB message and
        # 21-26 us per 100 KiB one, against 5.4-6.6 and 31-33 us for recv_into a reused buffer
        # plus a copy, so we keep recv. Not when the loop is made (as until issue 12): a loop
        # that never reads through sock_* keeps glibc's defaults, and with them asyncio's RSS
        # per pending timer (raised, the heap's reallocations stay resident: +8 B per timer).
        raise_malloc_thresholds()
        self._loop.add_reader(fileobj, callback, *args)
        self._readers[fd] = owner

    def _remove_reader(self, fd: int, owner: object) -> None:
        if self._readers.get(fd) is owner:
            del self._readers[fd]
            self._release_reader(fd)

    def _add_writer(
        self, fd: int, fileobj: Any, owner: object, callback: Callable[..., object], *args: Any
    ) -> None:
        self._loop.add_writer(fileobj, callback, *args)
        self._writers[fd] = owner

    def _remove_writer(self, fd: int, owner: object) -> None:
        if self._writers.get(fd) is owner:
            del self._writers[fd]
            self._release_writer(fd)

    # try/finally rather than asyncio's fut.add_done_callback(functools.partial(...)): no partial
    # and no callback Handle per wait, and the reader goes away within the task's own step, not
    # one loop iteration later. Measured: inlining these two waits into each sock_* method
    # changed nothing beyond the noise (+-5%) on 3.11-3.13, where the syscalls around them
    # (1.5-2.5us each on the dev VM) dominate.
    # `type(x) is int` (cheaper than isinstance on this path) does not narrow the other branch
    # for mypy, since an int subclass could remain there: hence the union-attr ignores.
    async def _wait_readable(self, fileobj: socket.socket | int) -> None:
        fd = fileobj if type(fileobj) is int else fileobj.fileno()  # type: ignore[union-attr]
        fut: asyncio.Future[None] = self._loop.create_future()
        self._add_reader(fd, fileobj, fut, _wake, fut)
        try:
            await fut
        finally:
            self._remove_reader(fd, fut)

    async def _wait_writable(self, fileobj: socket.socket | int) -> None:
        fd = fileobj if type(fileobj) is int else fileobj.fileno()  # type: ignore[union-attr]
        fut: asyncio.Future[None] = self._loop.create_future()
        self._add_writer(fd, fileobj, fut, _wake, fut)
        try:
            await fut
        finally:
            self._remove_writer(fd, fut)

    def _check_socket(self, sock: socket.socket) -> None:
        # asyncio checks the type first, and the blocking mode only in debug mode.
        if isinstance(sock, _SSLSocket):
            raise TypeError("Socket cannot be of type SSLSocket")
        if self._loop.get_debug() and sock.gettimeout() != 0:
            raise ValueError("the socket must be non-blocking")

    # --- receiving -----------------------------------------------------------------------------

    async def sock_recv(self, sock: socket.socket, nbytes: int) -> bytes:
        """Like loop.sock_recv(): up to *nbytes* bytes, b"" at end of stream."""
        self._check_socket(sock)
        while True:
            try:
                return sock.recv(nbytes)
            except _WOULD_BLOCK:
                pass
            await self._wait_readable(sock)

    async def sock_recv_into(self, sock: socket.socket, buf: WriteableBuffer) -> int:
        """Like loop.sock_recv_into(): the number of bytes written into *buf*."""
        self._check_socket(sock)
        while True:
            try:
                return sock.recv_into(buf)
            except _WOULD_BLOCK:
                pass
            await self._wait_readable(sock)

    async def sock_recvfrom(self, sock: socket.socket, bufsize: int) -> tuple[bytes, Any]:
        """Like loop.sock_recvfrom(): one datagram (at most *bufsize* bytes) and its sender."""
        self._check_socket(sock)
        while True:
            try:
                return sock.recvfrom(bufsize)
            except _WOULD_BLOCK:
                pass
            await self._wait_readable(sock)

    async def sock_recvfrom_into(
        self, sock: socket.socket, buf: WriteableBuffer, nbytes: int = 0
    ) -> tuple[int, Any]:
        """Like loop.sock_recvfrom_into(): *nbytes* 0 means the whole of *buf*."""
        self._check_socket(sock)
        if not nbytes:
            nbytes = len(buf)  # type: ignore[arg-type]  # a WriteableBuffer has a length
        while True:
            try:
                return sock.recvfrom_into(buf, nbytes)
            except _WOULD_BLOCK:
                pass
            await self._wait_readable(sock)

    async def sock_accept(self, sock: socket.socket) -> tuple[socket.socket, Any]:
        """Like loop.sock_accept(): the new connection is non-blocking, as in asyncio."""
        self._check_socket(sock)
        while True:
            try:
                conn, address = sock.accept()
            except _WOULD_BLOCK:
                await self._wait_readable(sock)
                continue
            conn.setblocking(False)
            return conn, address

    # --- sending -------------------------------------------------------------------------------

    async def sock_sendall(self, sock: socket.socket, data: ReadableBuffer) -> None:
        """Like loop.sock_sendall(): returns once all of *data* is handed to the kernel.

        Cancelled midway, the bytes already sent stay sent and the rest is dropped, as in asyncio;
        the peer then holds a prefix of *data*.
        """
        self._check_socket(sock)
        try:
            sent = sock.send(data)
        except _WOULD_BLOCK:
            sent = 0
        if sent == len(data):  # type: ignore[arg-type]  # send() accepted it, so it is sized
            return  # the common case: no memoryview, no future, no registration
        # Positions count bytes: cast('B') keeps a multi-byte-format buffer (array('i')) from
        # being sliced by items, which would make the callback spin on an empty slice forever.
        view = memoryview(data).cast("B")
        if sent == len(view):
            view.release()
            return
        job = _SendAll(self._loop.create_future(), sock, view, sent)
        fd = sock.fileno()
        self._add_writer(fd, sock, job, job.on_writable)
        try:
            await job.fut
        finally:
            self._remove_writer(fd, job)
            # A traceback keeps this frame, and so the view, alive; without the release a caller
            # catching the error could not resize its bytearray (BufferError). Safe: the writer
            # is gone, and a callback already queued stops at fut.done() before touching it.
            view.release()

    async def sock_sendto(self, sock: socket.socket, data: ReadableBuffer, address: Any) -> int:
        """Like loop.sock_sendto(): the number of bytes sent."""
        self._check_socket(sock)
        while True:
            try:
                return sock.sendto(data, address)
            except _WOULD_BLOCK:
                pass
            await self._wait_writable(sock)

    async def sock_sendfile(
        self,
        sock: socket.socket,
        file: IO[bytes],
        offset: int = 0,
        count: int | None = None,
        *,
        fallback: bool | None = True,
    ) -> int:
        """Like loop.sock_sendfile(): os.sendfile() where it works, else read + sock_sendall().

        Raises asyncio.SendfileNotAvailableError when os.sendfile() cannot be used and
        *fallback* is false; leaves the file position after the last byte sent.
        """
        # asyncio checks the blocking mode before the SSL type here, unlike in the other calls.
        if self._loop.get_debug() and sock.gettimeout() != 0:
            raise ValueError("the socket must be non-blocking")
        if isinstance(sock, _SSLSocket):
            raise TypeError("Socket cannot be of type SSLSocket")
        check_sendfile_params(sock, file, offset, count)
        try:
            return await sendfile_native(self._wait_writable, sock, file, offset, count)
        except asyncio.SendfileNotAvailableError:
            if not fallback:
                raise
        return await sendfile_fallback(self._loop, self.sock_sendall, sock, file, offset, count)

    # --- connecting ----------------------------------------------------------------------------

    async def sock_connect(self, sock: socket.socket, address: Any) -> None:
        """Like loop.sock_connect(): resolves host names of AF_INET/AF_INET6 sockets first.

        A failed connection raises OSError(errno, f"Connect call failed {address}"), which
        Python turns into the matching subclass (ConnectionRefusedError...), as asyncio does.
        """
        self._check_socket(sock)
        if needs_resolution(sock):
            address = await resolve_connect_address(self._loop, sock, address)
        try:
            sock.connect(address)
        except _WOULD_BLOCK:
            pass  # EINPROGRESS (or EINTR, after which the kernel keeps connecting): wait
        else:
            return
        fd = sock.fileno()
        while True:
            await self._wait_writable(fd)
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err == 0:
                return
            if err not in _CONNECT_PENDING:
                raise OSError(err, f"Connect call failed {address}")


class _SendAll:
    """One sock_sendall() past its first send(): the writer callback sends the rest.

    A slotted object whose bound method is the callback replaces asyncio's list-in-a-closure
    position plus functools.partial: one allocation, and the position is a plain attribute.
    """

    __slots__ = ("fut", "pos", "sock", "view")

    def __init__(
        self, fut: asyncio.Future[None], sock: socket.socket, view: memoryview, pos: int
    ) -> None:
        self.fut = fut
        self.sock = sock
        self.view = view
        self.pos = pos  # bytes of view already sent

    def on_writable(self) -> None:
        fut = self.fut
        if fut.done():
            return  # cancelled; the task removes the writer when it runs
        try:
            self.pos += self.sock.send(self.view[self.pos :])
        except _WOULD_BLOCK:
            return
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:  # the task re-raises it; asyncio does the same
            fut.set_exception(exc)
            return
        if self.pos == len(self.view):
            fut.set_result(None)
