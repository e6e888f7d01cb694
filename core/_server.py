"""Server (asyncio.AbstractServer), create_server and create_unix_server.

How a server works
------------------
A Server owns its listening sockets. While it serves, each has a reader; on readiness it
accepts up to ``backlog`` connections (one readiness event can stand for many), and wraps each
in a SocketTransport right there, with a protocol from the factory. asyncio does that step in a
new task per connection; doing it in the accept callback saves a task and an iteration, and the
protocol still sees connection_made() in a later callback, as with asyncio.

Transports attach to the server that accepted them and detach when their connection is lost,
so the server knows its clients: close_clients()/abort_clients() (3.13) reach them, and
wait_closed() returns once the server is closed *and* the last client is gone (3.12.1+; on 3.11
it returns at once if the server is already closed, as 3.11's asyncio does).

Running out of fds (EMFILE, ENFILE) or memory (ENOBUFS, ENOMEM) while accepting must not turn
into a busy loop (the listening socket stays readable): as asyncio does, we report it to the
exception handler, stop watching that socket, and try again ACCEPT_RETRY_DELAY seconds later.

Where we differ from asyncio: an exception from the protocol factory (or from building the
transport) for an incoming connection always reaches the exception handler with asyncio's
message, and the accepted socket is closed; asyncio reports it only in debug mode and leaves the
socket to the garbage collector.
"""

from __future__ import annotations

import asyncio
import collections.abc
import enum
import errno
import functools
import itertools
import logging
import os
import socket
import stat
import sys
import weakref
from typing import TYPE_CHECKING, Any

from ._connect import bind_error, loop_io, resolve
from ._errors import check_not_ssl_socket
from ._socket_options import set_reuse_port
from ._tls_options import check_server
from .tls import TLSOptions
from .transports._stream import SocketTransport

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._loop import EventLoop

logger = logging.getLogger("asyncio")

ACCEPT_RETRY_DELAY = 1.0  # seconds; asyncio.constants.ACCEPT_RETRY_DELAY
_OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
_ACCEPT_DONE = (BlockingIOError, InterruptedError, ConnectionAbortedError)

# wait_closed() waits for the clients from 3.12 on (3.12.1's fix; 3.12.0 was broken differently).
_WAIT_CLOSED_WAITS_FOR_CLIENTS = sys.version_info >= (3, 12)
# 3.13 skips addresses it cannot bind with EADDRNOTAVAIL (a disabled family, bpo-30945).
_SKIP_UNAVAILABLE_ADDRESSES = sys.version_info >= (3, 13)
_HAS_IPV6 = hasattr(socket, "AF_INET6") and hasattr(socket, "IPPROTO_IPV6")


class ServerState(enum.Enum):
    IDLE = "idle"  # sockets bound, not listening yet (start_serving=False)
    SERVING = "serving"
    CLOSED = "closed"  # sockets closed; may still have clients


class Server(asyncio.AbstractServer):
    """What create_server() and create_unix_server() return (asyncio.AbstractServer)."""

    def __init__(
        self,
        loop: EventLoop,
        sockets: list[socket.socket],
        protocol_factory: Callable[[], asyncio.BaseProtocol],
        backlog: int,
        unix_paths: dict[socket.socket, tuple[Any, int]] | None = None,
        tls: TLSOptions | None = None,
    ) -> None:
        self._loop = loop
        self._io = loop_io(loop)
        self._sockets: list[socket.socket] | None = sockets  # None once closed
        self._protocol_factory = protocol_factory
        self._backlog = backlog
        self._state = ServerState.IDLE
        self._clients: weakref.WeakSet[SocketTransport] = weakref.WeakSet()
        # Futures of wait_closed() callers; None once closed with no clients left.
        self._waiters: list[asyncio.Future[None]] | None = []
        self._serving_forever_fut: asyncio.Future[None] | None = None
        self._retry_timers: dict[socket.socket, asyncio.TimerHandle] = {}
        # Unix socket files to unlink on close: path and the inode we created (cleanup_socket).
        self._unix_paths = unix_paths or {}
        self._tls = tls  # every accepted connection is wrapped in TLS with these options

    def __repr__(self) -> str:
        return f"<{type(self).__name__} sockets={self.sockets!r}>"

    # -- AbstractServer -------------------------------------------------------------------------

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def is_serving(self) -> bool:
        return self._state is ServerState.SERVING

    @property
    def sockets(self) -> tuple[asyncio.trsock.TransportSocket, ...]:
        if self._sockets is None:
            return ()
        return tuple(asyncio.trsock.TransportSocket(sock) for sock in self._sockets)

    def close(self) -> None:
        """Stop listening and close the listening sockets; connected clients stay connected."""
        sockets = self._sockets
        if sockets is None:
            return
        self._sockets = None
        self._state = ServerState.CLOSED
        for sock in sockets:
            self._stop_listening(sock)
        fut = self._serving_forever_fut
        if fut is not None and not fut.done():
            fut.cancel()
            self._serving_forever_fut = None
        if not self._clients:
            self._wakeup()

    def close_clients(self) -> None:
        """Close every client transport (3.13); they flush what they buffered first."""
        for transport in list(self._clients):
            transport.close()

    def abort_clients(self) -> None:
        """Abort every client transport (3.13), dropping what they buffered."""
        for transport in list(self._clients):
            transport.abort()

    async def start_serving(self) -> None:
        self._start_serving()
        await asyncio.sleep(0)  # let the new readers take effect before returning, as asyncio

    async def serve_forever(self) -> None:
        if self._serving_forever_fut is not None:
            raise RuntimeError(f"server {self!r} is already being awaited on serve_forever()")
        if self._sockets is None:
            raise RuntimeError(f"server {self!r} is closed")
        self._start_serving()
        fut: asyncio.Future[None] = self._loop.create_future()
        self._serving_forever_fut = fut
        try:
            await fut
        except asyncio.CancelledError:
            # Cancelling serve_forever() closes the server; the cancellation still propagates.
            try:
                self.close()
                await self.wait_closed()
            finally:
                raise
        finally:
            self._serving_forever_fut = None

    async def wait_closed(self) -> None:
        """Return once the server is closed and its last client connection is gone."""
        if self._waiters is None:
            return
        if not _WAIT_CLOSED_WAITS_FOR_CLIENTS and self._sockets is None:
            return  # 3.11: a closed server does not wait for its clients
        waiter: asyncio.Future[None] = self._loop.create_future()
        self._waiters.append(waiter)
        await waiter

    # -- clients (called by SocketTransport) ----------------------------------------------------

    def _attach(self, transport: SocketTransport) -> None:
        self._clients.add(transport)

    def _detach(self, transport: SocketTransport) -> None:
        self._clients.discard(transport)
        if not self._clients and self._sockets is None:
            self._wakeup()

    def _wakeup(self) -> None:
        waiters = self._waiters
        self._waiters = None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    # -- listening and accepting ----------------------------------------------------------------

    def _start_serving(self) -> None:
        if self._state is not ServerState.IDLE or self._sockets is None:
            return
        self._state = ServerState.SERVING
        for sock in self._sockets:
            sock.listen(self._backlog)
            self._watch(sock)

    def _watch(self, sock: socket.socket) -> None:
        self._retry_timers.pop(sock, None)
        if self._state is ServerState.SERVING:
            self._io.add_reader(sock.fileno(), functools.partial(self._accept, sock))

    def _stop_listening(self, sock: socket.socket) -> None:
        timer = self._retry_timers.pop(sock, None)
        if timer is not None:
            timer.cancel()
        unix_path = self._unix_paths.pop(sock, None)
        if sock.fileno() != -1:
            self._io.remove_reader(sock.fileno())
        sock.close()
        if unix_path is not None:
            _remove_socket_file(*unix_path)

    def _accept(self, sock: socket.socket) -> None:
        for _ in range(self._backlog):
            try:
                conn, address = sock.accept()
            except _ACCEPT_DONE:
                return  # nothing more waiting (or the client gave up before we got to it)
            except OSError as exc:
                if exc.errno not in _OUT_OF_RESOURCES:
                    raise  # the loop reports it, as asyncio does ("Exception in callback ...")
                self._pause_accepting(sock, exc)
                return
            if self._loop.get_debug():
                logger.debug("%r got a new connection from %r: %r", self, address, conn)
            conn.setblocking(False)
            self._connection_accepted(conn, address)

    def _pause_accepting(self, sock: socket.socket, exc: OSError) -> None:
        self._loop.call_exception_handler(
            {
                "message": "socket.accept() out of system resource",
                "exception": exc,
                "socket": asyncio.trsock.TransportSocket(sock),
            }
        )
        # The socket stays readable, so watching it now would spin; look again in a while.
        self._io.remove_reader(sock.fileno())
        self._retry_timers[sock] = self._loop.call_later(ACCEPT_RETRY_DELAY, self._watch, sock)

    def _connection_accepted(self, conn: socket.socket, address: Any) -> None:
        protocol = None
        try:
            protocol = self._protocol_factory()
            self._io.check_socket_free(conn)
            # With TLS the application's connection_made() waits for the handshake; a failed
            # handshake closes the connection quietly (an OSError), as in asyncio.
            carried = protocol if self._tls is None else self._tls.wrap(self._loop, protocol, None)
            SocketTransport(self._io, conn, carried, extra={"peername": address}, server=self)
        except (SystemExit, KeyboardInterrupt):
            conn.close()
            raise
        except BaseException as exc:
            conn.close()
            context: dict[str, Any] = {
                "message": "Error on transport creation for incoming connection",
                "exception": exc,
            }
            if protocol is not None:
                context["protocol"] = protocol
            self._loop.call_exception_handler(context)


def _remove_socket_file(path: Any, inode: int) -> None:
    # Only the file we created: another server may have replaced it since.
    try:
        if os.stat(path).st_ino == inode:
            os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as err:
        logger.error("Unable to clean up listening UNIX socket %r: %r", path, err)


# -- create_server ----------------------------------------------------------------------------


async def create_server(
    loop: EventLoop,
    protocol_factory: Callable[[], asyncio.BaseProtocol],
    host: Any = None,
    port: Any = None,
    *,
    family: int = socket.AF_UNSPEC,
    flags: int = socket.AI_PASSIVE,
    sock: socket.socket | None = None,
    backlog: int = 100,
    ssl: Any = None,
    reuse_address: bool | None = None,
    reuse_port: bool | None = None,
    keep_alive: bool | None = None,
    ssl_handshake_timeout: float | None = None,
    ssl_shutdown_timeout: float | None = None,
    start_serving: bool = True,
) -> Server:
    check_server(ssl, ssl_handshake_timeout, ssl_shutdown_timeout)
    if sock is not None:
        check_not_ssl_socket(sock)
    tls = _server_tls(ssl, ssl_handshake_timeout, ssl_shutdown_timeout)
    if host is not None or port is not None:
        if sock is not None:
            raise ValueError("host/port and sock can not be specified at the same time")
        if reuse_address is None:
            reuse_address = os.name == "posix" and sys.platform != "cygwin"
        infos = await _resolve_hosts(loop, host, port, family, flags)
        options = _SocketOptions(bool(reuse_address), bool(reuse_port), bool(keep_alive))
        sockets = _bind_all(loop, infos, options)
    else:
        if sock is None:
            raise ValueError("Neither host/port nor sock were specified")
        if sock.type != socket.SOCK_STREAM:
            raise ValueError(f"A Stream Socket was expected, got {sock!r}")
        sockets = [sock]
    for listener in sockets:
        listener.setblocking(False)
    server = Server(loop, sockets, protocol_factory, backlog, tls=tls)
    if start_serving:
        await server.start_serving()
    if loop.get_debug():
        logger.info("%r is serving", server)
    return server


def _server_tls(
    ssl: Any, handshake_timeout: float | None, shutdown_timeout: float | None
) -> TLSOptions | None:
    if ssl is None:
        return None
    tls = TLSOptions(
        ssl,
        server_side=True,
        handshake_timeout=handshake_timeout,
        shutdown_timeout=shutdown_timeout,
    )
    # asyncio checks the timeouts per accepted connection, where the error is lost (reported
    # in debug mode only); we raise it from create_server() instead.
    tls.check_timeouts()
    return tls


async def _resolve_hosts(
    loop: EventLoop, host: Any, port: Any, family: int, flags: int
) -> set[tuple[Any, ...]]:
    """Every address to bind: all hosts resolved concurrently, duplicates bound once."""
    if host == "":
        hosts: collections.abc.Iterable[Any] = [None]  # '' means every interface, like None
    elif isinstance(host, str) or not isinstance(host, collections.abc.Iterable):
        hosts = [host]
    else:
        hosts = host

    async def lookup(one: Any) -> list[tuple[Any, ...]]:
        infos = await resolve(loop, (one, port), family=family, flags=flags)
        if not infos:
            raise OSError(f"getaddrinfo({one!r}) returned empty list")
        return infos

    results = await asyncio.gather(*[lookup(one) for one in hosts])
    return set(itertools.chain.from_iterable(results))


class _SocketOptions:
    __slots__ = ("keep_alive", "reuse_address", "reuse_port")

    def __init__(self, reuse_address: bool, reuse_port: bool, keep_alive: bool) -> None:
        self.reuse_address = reuse_address
        self.reuse_port = reuse_port
        self.keep_alive = keep_alive

    def apply(self, sock: socket.socket, family: int) -> None:
        if self.reuse_address:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, True)
        if self.reuse_port:
            set_reuse_port(sock)
        if self.keep_alive:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, True)
        if _HAS_IPV6 and family == socket.AF_INET6:
            # One socket per family: without this Linux would have the IPv6 socket take the
            # IPv4 port as well, and the IPv4 bind would fail.
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, True)


def _bind_all(
    loop: EventLoop, infos: set[tuple[Any, ...]], options: _SocketOptions
) -> list[socket.socket]:
    sockets: list[socket.socket] = []
    completed = False
    try:
        for family, type_, proto, _, address in infos:
            try:
                sock = socket.socket(family, type_, proto)
            except OSError:
                # A family/type/proto this host cannot create: skip it, as asyncio does.
                if loop.get_debug():
                    logger.warning(
                        "create_server() failed to create socket.socket(%r, %r, %r)",
                        family,
                        type_,
                        proto,
                        exc_info=True,
                    )
                continue
            sockets.append(sock)
            options.apply(sock, family)
            try:
                sock.bind(address)
            except OSError as err:
                error = bind_error(err, address)
                if _SKIP_UNAVAILABLE_ADDRESSES and err.errno == errno.EADDRNOTAVAIL:
                    sockets.pop().close()
                    if loop.get_debug():
                        logger.warning(error.strerror)
                    continue
                raise error from None
        if _SKIP_UNAVAILABLE_ADDRESSES and not sockets:
            raise OSError(f"could not bind on any address out of {[info[4] for info in infos]!r}")
        completed = True
    finally:
        if not completed:
            for sock in sockets:
                sock.close()
    return sockets


# -- create_unix_server -----------------------------------------------------------------------


async def create_unix_server(
    loop: EventLoop,
    protocol_factory: Callable[[], asyncio.BaseProtocol],
    path: Any = None,
    *,
    sock: socket.socket | None = None,
    backlog: int = 100,
    ssl: Any = None,
    ssl_handshake_timeout: float | None = None,
    ssl_shutdown_timeout: float | None = None,
    start_serving: bool = True,
    cleanup_socket: bool = True,
) -> Server:
    check_server(ssl, ssl_handshake_timeout, ssl_shutdown_timeout)
    tls = _server_tls(ssl, ssl_handshake_timeout, ssl_shutdown_timeout)
    if path is not None:
        if sock is not None:
            raise ValueError("path and sock can not be specified at the same time")
        sock = _bind_unix(os.fspath(path))
    else:
        if sock is None:
            raise ValueError("path was not specified, and no sock specified")
        if sock.family != socket.AF_UNIX or sock.type != socket.SOCK_STREAM:
            raise ValueError(f"A UNIX Domain Stream Socket was expected, got {sock!r}")
    unix_paths = {}
    if cleanup_socket:
        bound = sock.getsockname()
        if not _is_abstract(bound):
            try:
                unix_paths[sock] = (bound, os.stat(bound).st_ino)
            except FileNotFoundError:
                pass
    sock.setblocking(False)
    server = Server(loop, [sock], protocol_factory, backlog, unix_paths, tls=tls)
    if start_serving:
        await server.start_serving()
    return server


def _is_abstract(path: str | bytes) -> bool:
    """Linux's abstract namespace: a name starting with a NUL byte, no file behind it."""
    return not path or path[0] in (0, "\x00")


def _bind_unix(path: str | bytes) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if not _is_abstract(path):
        _remove_stale_socket_file(path)
    try:
        sock.bind(path)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise OSError(errno.EADDRINUSE, f"Address {path!r} is already in use") from None
        raise
    except BaseException:
        sock.close()
        raise
    return sock


def _remove_stale_socket_file(path: str | bytes) -> None:
    # A socket file left behind by a server that died makes bind() fail with EADDRINUSE;
    # asyncio removes it (only if it is a socket: never a regular file someone named so).
    try:
        if stat.S_ISSOCK(os.stat(path).st_mode):
            os.remove(path)
    except FileNotFoundError:
        pass
    except OSError as err:
        # The directory may allow creating the socket but not looking at it.
        logger.error("Unable to check or remove stale UNIX socket %r: %r", path, err)
