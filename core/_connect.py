"""create_connection, create_unix_connection, connect_accepted_socket: checks, then named steps.

create_connection reads as asyncio documents it: check the arguments, resolve host and port
(IP literals without a lookup), connect to the addresses one after another or staggered (Happy
Eyeballs, core/_happy_eyeballs.py), wrap the socket in a SocketTransport, and hand back
``(transport, protocol)`` once connection_made() has run.

When every address fails, the error is asyncio's: the one OSError if there was one (or if all
read the same), else ``OSError('Multiple exceptions: ...')``, or with all_errors=True (3.12+)
an ExceptionGroup of them all. A socket we created never outlives a failure or a cancellation.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import sys
from typing import TYPE_CHECKING, Any

from ._addresses import _ipaddr_info
from ._errors import check_not_ssl_socket
from ._happy_eyeballs import interleave as interleave_addrinfos
from ._happy_eyeballs import staggered_race
from ._tls_options import check_timeouts, check_unix_client, client_server_hostname
from .tls import TLSOptions
from .transports._fdio import LoopIO
from .transports._stream import SocketTransport

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable

    from ._loop import EventLoop

logger = logging.getLogger("asyncio")

AddrInfo = tuple[Any, ...]

# 3.13 words bind errors with str(exc) ("[errno 98] address already in use"); 3.11 and 3.12
# with exc.strerror only ("address already in use").
_BIND_ERROR_WITH_ERRNO = sys.version_info >= (3, 13)


def loop_io(loop: EventLoop) -> LoopIO:
    """The fd channel a transport of ``loop`` uses (see transports/_fdio.py)."""
    return loop._transport_io()


def bind_error(exc: OSError, address: Any) -> OSError:
    """asyncio's OSError for a failed bind(): the errno kept, the address in the message."""
    reason = str(exc) if _BIND_ERROR_WITH_ERRNO else (exc.strerror or str(exc))
    return OSError(
        exc.errno, f"error while attempting to bind on address {address!r}: {reason.lower()}"
    )


async def resolve(
    loop: asyncio.AbstractEventLoop,
    address: Any,
    *,
    family: int = 0,
    type: int = socket.SOCK_STREAM,  # asyncio's keyword name
    proto: int = 0,
    flags: int = 0,
) -> list[AddrInfo]:
    """getaddrinfo() results for ``address`` (host, port, ...); an IP literal needs no lookup."""
    host, port = address[:2]
    info = _ipaddr_info(host, port, family, type, proto, *address[2:])
    if info is not None:
        return [info]
    return await loop.getaddrinfo(host, port, family=family, type=type, proto=proto, flags=flags)


async def start_transport(
    loop: EventLoop,
    sock: socket.socket,
    protocol_factory: Callable[[], asyncio.BaseProtocol],
    *,
    owns_sock: bool,
    tls: TLSOptions | None = None,
) -> tuple[asyncio.Transport, asyncio.BaseProtocol]:
    """Wrap a connected socket (in TLS if ``tls``); return once connection_made() has run."""
    sock.setblocking(False)
    waiter: asyncio.Future[None] = loop.create_future()
    try:
        protocol = protocol_factory()
        loop_io(loop).check_socket_free(sock)
        # A TLS protocol checks its timeouts and context here, after connecting, as asyncio.
        tls_protocol = None if tls is None else tls.wrap(loop, protocol, waiter)
    except BaseException:
        if owns_sock:
            sock.close()  # asyncio leaves this to the garbage collector (and a ResourceWarning)
        raise
    transport: asyncio.Transport
    if tls_protocol is None:
        transport = SocketTransport(loop_io(loop), sock, protocol, waiter)
    else:
        # connection_made() reaches the application once the handshake is done.
        SocketTransport(loop_io(loop), sock, tls_protocol)
        transport = tls_protocol.app_transport
    try:
        await waiter
    except BaseException:
        transport.close()
        raise
    return transport, protocol


# -- create_connection ----------------------------------------------------------------------


async def create_connection(
    loop: EventLoop,
    protocol_factory: Callable[[], asyncio.BaseProtocol],
    host: Any = None,
    port: Any = None,
    *,
    ssl: Any = None,
    family: int = 0,
    proto: int = 0,
    flags: int = 0,
    sock: socket.socket | None = None,
    local_addr: Any = None,
    server_hostname: str | None = None,
    ssl_handshake_timeout: float | None = None,
    ssl_shutdown_timeout: float | None = None,
    happy_eyeballs_delay: float | None = None,
    interleave: int | None = None,
    all_errors: bool = False,
) -> tuple[asyncio.Transport, asyncio.BaseProtocol]:
    server_hostname = client_server_hostname(
        ssl, host, server_hostname, ssl_handshake_timeout, ssl_shutdown_timeout
    )
    if sock is not None:
        check_not_ssl_socket(sock)
    tls = _client_tls(ssl, server_hostname, ssl_handshake_timeout, ssl_shutdown_timeout)
    if happy_eyeballs_delay is not None and interleave is None:
        interleave = 1  # Happy Eyeballs alternates families unless told otherwise
    if host is not None or port is not None:
        if sock is not None:
            raise ValueError("host/port and sock can not be specified at the same time")
        sock = await _connect_any(
            loop,
            (host, port),
            family=family,
            proto=proto,
            flags=flags,
            local_addr=local_addr,
            happy_eyeballs_delay=happy_eyeballs_delay,
            interleave=interleave,
            all_errors=all_errors,
        )
        owns_sock = True
    else:
        if sock is None:
            raise ValueError("host and port was not specified and no sock specified")
        _check_stream_socket(sock)
        owns_sock = False
    transport, protocol = await start_transport(
        loop, sock, protocol_factory, owns_sock=owns_sock, tls=tls
    )
    if loop.get_debug():
        logger.debug(
            "%r connected to %s:%r: (%r, %r)",
            transport.get_extra_info("socket"),
            host,
            port,
            transport,
            protocol,
        )
    return transport, protocol


def _client_tls(
    ssl: Any,
    server_hostname: str | None,
    handshake_timeout: float | None,
    shutdown_timeout: float | None,
) -> TLSOptions | None:
    """The client side's TLS options for ``ssl=`` (None without TLS), arguments already checked."""
    if not ssl:
        return None
    return TLSOptions(
        ssl,
        server_side=False,
        server_hostname=server_hostname,
        handshake_timeout=handshake_timeout,
        shutdown_timeout=shutdown_timeout,
    )


def _check_stream_socket(sock: socket.socket) -> None:
    # Any SOCK_STREAM family is fine, AF_UNIX included (asyncio keeps that for compatibility).
    if sock.type != socket.SOCK_STREAM:
        raise ValueError(f"A Stream Socket was expected, got {sock!r}")


async def _connect_any(
    loop: EventLoop,
    address: tuple[Any, Any],
    *,
    family: int,
    proto: int,
    flags: int,
    local_addr: Any,
    happy_eyeballs_delay: float | None,
    interleave: int | None,
    all_errors: bool,
) -> socket.socket:
    """Resolve, then connect to the first address that accepts; raise asyncio's error if none."""
    infos = await resolve(loop, address, family=family, proto=proto, flags=flags)
    if not infos:
        raise OSError("getaddrinfo() returned empty list")
    local_infos = None
    if local_addr is not None:
        local_infos = await resolve(loop, local_addr, family=family, proto=proto, flags=flags)
        if not local_infos:
            raise OSError("getaddrinfo() returned empty list")
    if interleave:
        infos = interleave_addrinfos(infos, interleave)
    failures: list[list[OSError]] = []  # one list per attempt, in the order they started
    attempts = [
        functools.partial(_connect_one, loop, info, local_infos, failures) for info in infos
    ]
    sock: socket.socket | None = None
    if happy_eyeballs_delay is None:
        for attempt in attempts:
            try:
                sock = await attempt()
                break
            except OSError:
                continue
    else:
        sock = await staggered_race(attempts, happy_eyeballs_delay, discard=socket.socket.close)
    if sock is not None:
        return sock
    try:
        raise _every_address_failed([exc for errors in failures for exc in errors], all_errors)
    finally:
        failures.clear()  # the exceptions' frames refer to this list: break the cycle


def _every_address_failed(errors: list[OSError], all_errors: bool) -> BaseException:
    if all_errors:
        return ExceptionGroup("create_connection failed", errors)
    if len(errors) == 1 or all(str(exc) == str(errors[0]) for exc in errors):
        return errors[0]
    return OSError("Multiple exceptions: {}".format(", ".join(str(exc) for exc in errors)))


async def _connect_one(
    loop: EventLoop,
    info: AddrInfo,
    local_infos: list[AddrInfo] | None,
    failures: list[list[OSError]],
) -> socket.socket:
    """One attempt: create, bind (local_addr), connect. Records its OSErrors in ``failures``."""
    errors: list[OSError] = []
    failures.append(errors)
    family, type_, proto, _, address = info
    sock = None
    try:
        sock = socket.socket(family=family, type=type_, proto=proto)
        sock.setblocking(False)
        if local_infos is not None:
            _bind_local(sock, family, local_infos, errors)
        await loop.sock_connect(sock, address)
    except OSError as exc:
        errors.append(exc)
        if sock is not None:
            sock.close()
        raise
    except BaseException:
        if sock is not None:
            sock.close()
        raise
    finally:
        # The OSError's traceback holds this frame, and this frame the list holding the OSError:
        # a cycle that keeps both alive until the collector runs (asyncio: gh-124859).
        del errors
    return sock


def _bind_local(
    sock: socket.socket, family: int, local_infos: list[AddrInfo], errors: list[OSError]
) -> None:
    for local_family, _, _, _, local_address in local_infos:
        if local_family != family:
            continue  # a local address of another family cannot serve this socket
        try:
            sock.bind(local_address)
        except OSError as exc:
            errors.append(bind_error(exc, local_address))
        else:
            return
    if errors:
        raise errors.pop()
    raise OSError(f"no matching local address with {family=} found")


# -- Unix sockets and accepted sockets --------------------------------------------------------


async def create_unix_connection(
    loop: EventLoop,
    protocol_factory: Callable[[], asyncio.BaseProtocol],
    path: Any = None,
    *,
    ssl: Any = None,
    sock: socket.socket | None = None,
    server_hostname: str | None = None,
    ssl_handshake_timeout: float | None = None,
    ssl_shutdown_timeout: float | None = None,
) -> tuple[asyncio.Transport, asyncio.BaseProtocol]:
    assert server_hostname is None or isinstance(server_hostname, str)  # asyncio asserts too
    check_unix_client(ssl, server_hostname, ssl_handshake_timeout, ssl_shutdown_timeout)
    tls = _client_tls(ssl, server_hostname, ssl_handshake_timeout, ssl_shutdown_timeout)
    if path is not None:
        if sock is not None:
            raise ValueError("path and sock can not be specified at the same time")
        sock = await _connect_unix(loop, os.fspath(path))
        owns_sock = True
    else:
        if sock is None:
            raise ValueError("no path and sock were specified")
        _check_unix_stream_socket(sock)
        sock.setblocking(False)
        owns_sock = False
    return await start_transport(loop, sock, protocol_factory, owns_sock=owns_sock, tls=tls)


def _check_unix_stream_socket(sock: socket.socket) -> None:
    if sock.family != socket.AF_UNIX or sock.type != socket.SOCK_STREAM:
        raise ValueError(f"A UNIX Domain Stream Socket was expected, got {sock!r}")


async def _connect_unix(loop: EventLoop, path: str | bytes) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, 0)
    try:
        sock.setblocking(False)
        await loop.sock_connect(sock, path)
    except BaseException:
        sock.close()
        raise
    return sock


async def connect_accepted_socket(
    loop: EventLoop,
    protocol_factory: Callable[[], asyncio.BaseProtocol],
    sock: socket.socket,
    *,
    ssl: Any = None,
    ssl_handshake_timeout: float | None = None,
    ssl_shutdown_timeout: float | None = None,
) -> tuple[asyncio.Transport, asyncio.BaseProtocol]:
    _check_stream_socket(sock)
    check_timeouts(bool(ssl), ssl_handshake_timeout, ssl_shutdown_timeout)
    check_not_ssl_socket(sock)
    tls = None
    if ssl:
        tls = TLSOptions(
            ssl,
            server_side=True,
            handshake_timeout=ssl_handshake_timeout,
            shutdown_timeout=ssl_shutdown_timeout,
        )
    transport, protocol = await start_transport(
        loop, sock, protocol_factory, owns_sock=False, tls=tls
    )
    if loop.get_debug():
        logger.debug(
            "%r handled: (%r, %r)", transport.get_extra_info("socket"), transport, protocol
        )
    return transport, protocol
