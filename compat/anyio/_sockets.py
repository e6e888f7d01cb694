"""Socket streams, listeners and datagram sockets for the treadle backend.

Built on the loop's ``sock_*`` coroutines over non-blocking sockets: treadle's loop parks a socket's
poller registration between two reads (core/_fdregistry.py), so a receive loop costs no epoll_ctl
per message, and there are no transports or protocols in between.

Closing while another task waits: each blocking operation runs in its own treadle cancel scope,
which ``aclose()`` cancels; the operation then raises ``ClosedResourceError`` (AnyIO's rule) and its
fd registration is gone before the socket closes, so no poller ever watches a closed fd.
"""

from __future__ import annotations

import array
import asyncio
import socket
from collections.abc import Collection, Coroutine
from io import IOBase
from typing import Any, Generic, TypeVar

import anyio.abc
from anyio import (
    BrokenResourceError,
    ClosedResourceError,
    EndOfStream,
    ResourceGuard,
)

from treadle.structured import checkpoint, checkpoint_if_cancelled

from ._native import NativeScope, raise_if_cancelled

_T = TypeVar("_T")
_RECEIVE_SIZE = 65536


def convert_ipv6_sockaddr(address: Any) -> Any:
    """(host, port) for an IPv6 4-tuple, with a nonzero scope id kept as ``host%scope``."""
    if isinstance(address, tuple) and len(address) == 4:
        host, port, _flowinfo, scope_id = address
        if scope_id:
            host = f"{host.split('%')[0]}%{scope_id}"
        return host, port
    return address


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class _SocketHolder:
    """A non-blocking socket, the operations waiting on it, and how closing interrupts them."""

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self._sock = sock
        self._loop = asyncio.get_running_loop()
        self._closed = False
        self._ops: set[NativeScope] = set()  # one cancel scope per operation in progress

    @property
    def _raw_socket(self) -> socket.socket:
        return self._sock

    async def _io(self, operation: Coroutine[Any, Any, _T]) -> _T:
        """Run one socket operation; ClosedResourceError if aclose() interrupts it."""
        if self._closed:
            operation.close()
            raise ClosedResourceError
        scope = NativeScope()
        self._ops.add(scope)
        try:
            with scope:
                return await operation
        except OSError as exc:
            if self._closed:
                raise ClosedResourceError from None
            raise BrokenResourceError from exc
        finally:
            self._ops.discard(scope)
        raise ClosedResourceError  # the scope caught the cancellation aclose() sent

    async def _readable(self) -> None:
        waiter: asyncio.Future[None] = self._loop.create_future()
        self._loop.add_reader(self._sock, _wake, waiter)
        try:
            await waiter
        finally:
            self._loop.remove_reader(self._sock)

    async def _writable(self) -> None:
        waiter: asyncio.Future[None] = self._loop.create_future()
        self._loop.add_writer(self._sock, _wake, waiter)
        try:
            await waiter
        finally:
            self._loop.remove_writer(self._sock)

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            if self._ops:
                for scope in self._ops:
                    scope.cancel()
                # Let the interrupted operations unwind (and drop their fd registrations)
                # before the fd closes; shielded, so a cancelled aclose() still closes.
                with NativeScope(shield=True):
                    await asyncio.sleep(0)
            self._sock.close()
        await checkpoint()


class SocketStream(_SocketHolder, anyio.abc.SocketStream):
    def __init__(self, sock: socket.socket) -> None:
        super().__init__(sock)
        self._receive_guard = ResourceGuard("reading from")
        self._send_guard = ResourceGuard("writing to")

    # Fast paths: the syscall is tried first, and only an operation that has to wait pays for
    # the interruptible scope of _io() (measured: a third of the time of a 100-byte echo round
    # trip went to that wrapper when every operation took it).

    async def receive(self, max_bytes: int = _RECEIVE_SIZE) -> bytes:
        if max_bytes < 1:
            raise ValueError("max_bytes must be a positive integer")
        with self._receive_guard:
            raise_if_cancelled()
            if self._closed:
                raise ClosedResourceError
            try:
                data = self._sock.recv(max_bytes)
            except BlockingIOError:
                data = await self._io(self._loop.sock_recv(self._sock, max_bytes))
            except OSError as exc:
                raise BrokenResourceError from exc
        if not data:
            raise EndOfStream
        return data

    async def send(self, item: bytes) -> None:
        with self._send_guard:
            raise_if_cancelled()
            if self._closed:
                raise ClosedResourceError
            try:
                sent = self._sock.send(item)
            except BlockingIOError:
                sent = 0
            except OSError as exc:
                raise BrokenResourceError from exc
            if sent < len(item):
                rest = memoryview(item)[sent:]
                await self._io(self._loop.sock_sendall(self._sock, rest))

    async def send_eof(self) -> None:
        with self._send_guard:
            if self._closed:
                raise ClosedResourceError
            try:
                self._sock.shutdown(socket.SHUT_WR)
            except OSError as exc:
                raise BrokenResourceError from exc


class UNIXSocketStream(SocketStream, anyio.abc.UNIXSocketStream):
    async def receive_fds(self, msglen: int, maxfds: int) -> tuple[bytes, list[int]]:
        if not isinstance(msglen, int) or msglen < 0:
            raise ValueError("msglen must be a non-negative integer")
        if not isinstance(maxfds, int) or maxfds < 1:
            raise ValueError("maxfds must be a positive integer")
        fds = array.array("i")
        await checkpoint()
        with self._receive_guard:
            message, ancdata = await self._io(self._recvmsg(msglen, maxfds * fds.itemsize))
        if not message and not ancdata:
            raise EndOfStream
        for level, kind, data in ancdata:
            if level != socket.SOL_SOCKET or kind != socket.SCM_RIGHTS:
                raise RuntimeError(
                    f"Received unexpected ancillary data; message = {message!r}, "
                    f"cmsg_level = {level}, cmsg_type = {kind}"
                )
            fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
        return message, list(fds)

    async def _recvmsg(self, msglen: int, fd_bytes: int) -> tuple[bytes, list[Any]]:
        while True:
            try:
                message, ancdata, _flags, _addr = self._sock.recvmsg(
                    msglen, socket.CMSG_LEN(fd_bytes)
                )
            except BlockingIOError:
                await self._readable()
            else:
                return message, ancdata

    async def send_fds(self, message: bytes, fds: Collection[int | IOBase]) -> None:
        if not message:
            raise ValueError("message must not be empty")
        if not fds:
            raise ValueError("fds must not be empty")
        filenos = [fd if isinstance(fd, int) else fd.fileno() for fd in fds]
        ancdata = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", filenos))]
        await checkpoint()
        with self._send_guard:
            await self._io(self._sendmsg(memoryview(message), ancdata))

    async def _sendmsg(self, view: memoryview, ancdata: list[Any]) -> None:
        while view:
            try:
                sent = self._sock.sendmsg([view], ancdata)
            except BlockingIOError:
                await self._writable()
            else:
                view = view[sent:]
                ancdata = []  # the descriptors went with the first successful write


class TCPSocketListener(_SocketHolder, anyio.abc.SocketListener):
    def __init__(self, sock: socket.socket) -> None:
        super().__init__(sock)
        self._accept_guard = ResourceGuard("accepting connections from")

    async def accept(self) -> SocketStream:
        with self._accept_guard:
            await checkpoint_if_cancelled()
            client, _address = await self._io(self._loop.sock_accept(self._sock))
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return SocketStream(client)


class UNIXSocketListener(_SocketHolder, anyio.abc.SocketListener):
    def __init__(self, sock: socket.socket) -> None:
        super().__init__(sock)
        self._accept_guard = ResourceGuard("accepting connections from")

    async def accept(self) -> UNIXSocketStream:
        with self._accept_guard:
            await checkpoint_if_cancelled()
            client, _address = await self._io(self._loop.sock_accept(self._sock))
        return UNIXSocketStream(client)


_Address = TypeVar("_Address")


class _Datagrams(_SocketHolder, Generic[_Address]):
    def __init__(self, sock: socket.socket) -> None:
        super().__init__(sock)
        self._receive_guard = ResourceGuard("reading from")
        self._send_guard = ResourceGuard("writing to")

    async def _receive_from(self) -> tuple[bytes, Any]:
        with self._receive_guard:
            await checkpoint_if_cancelled()
            return await self._io(self._loop.sock_recvfrom(self._sock, _RECEIVE_SIZE))

    async def _receive(self) -> bytes:
        with self._receive_guard:
            await checkpoint_if_cancelled()
            return await self._io(self._loop.sock_recv(self._sock, _RECEIVE_SIZE))

    async def _send_to(self, data: bytes, address: Any) -> None:
        with self._send_guard:
            await checkpoint_if_cancelled()
            await self._io(self._loop.sock_sendto(self._sock, data, address))

    async def _send(self, data: bytes) -> None:
        with self._send_guard:
            await checkpoint_if_cancelled()
            await self._io(self._loop.sock_sendall(self._sock, data))


class UDPSocket(_Datagrams[Any], anyio.abc.UDPSocket):
    async def receive(self) -> tuple[bytes, tuple[str, int]]:
        data, address = await self._receive_from()
        return data, convert_ipv6_sockaddr(address)

    async def send(self, item: tuple[bytes, tuple[str, int]]) -> None:
        data, address = item
        await self._send_to(data, address)


class ConnectedUDPSocket(_Datagrams[Any], anyio.abc.ConnectedUDPSocket):
    async def receive(self) -> bytes:
        return await self._receive()

    async def send(self, item: bytes) -> None:
        await self._send(item)


class UNIXDatagramSocket(_Datagrams[Any], anyio.abc.UNIXDatagramSocket):
    async def receive(self) -> tuple[bytes, str]:
        data, address = await self._receive_from()
        return data, address

    async def send(self, item: tuple[bytes, str]) -> None:
        data, address = item
        await self._send_to(data, address)


class ConnectedUNIXDatagramSocket(_Datagrams[Any], anyio.abc.ConnectedUNIXDatagramSocket):
    async def receive(self) -> bytes:
        return await self._receive()

    async def send(self, item: bytes) -> None:
        await self._send(item)


# -- opening ------------------------------------------------------------------------------------


async def connect_tcp(host: str, port: int, local_address: tuple[str, int] | None) -> SocketStream:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if local_address:
            sock.bind(local_address)
        await asyncio.get_running_loop().sock_connect(sock, (host, port))
    except BaseException:
        sock.close()
        raise
    return SocketStream(sock)


async def connect_unix(path: str | bytes, kind: socket.SocketKind) -> UNIXSocketStream:
    sock = socket.socket(socket.AF_UNIX, kind)
    try:
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, path)
    except BaseException:
        sock.close()
        raise
    return UNIXSocketStream(sock)


async def create_udp_socket(
    family: socket.AddressFamily,
    local_address: tuple[str, int] | None,
    remote_address: tuple[str, int] | None,
    reuse_port: bool,
) -> UDPSocket | ConnectedUDPSocket:
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if local_address:
            sock.bind(local_address)
        if remote_address:
            await asyncio.get_running_loop().sock_connect(sock, remote_address)
            return ConnectedUDPSocket(sock)
        return UDPSocket(sock)
    except BaseException:
        sock.close()
        raise


async def create_unix_datagram_socket(
    sock: socket.socket, remote_path: str | bytes | None
) -> UNIXDatagramSocket | ConnectedUNIXDatagramSocket:
    sock.setblocking(False)
    if remote_path:
        try:
            await asyncio.get_running_loop().sock_connect(sock, remote_path)
        except BaseException:
            sock.close()
            raise
        return ConnectedUNIXDatagramSocket(sock)
    return UNIXDatagramSocket(sock)
