"""create_datagram_endpoint: check the arguments, find addresses, open a socket, wrap it.

The steps, in asyncio's order (the order decides which error a bad call raises):

1. ``sock=`` given: check that it is a datagram socket and that no socket-shaping argument came
   with it, make it non-blocking, and skip to step 4.
2. Otherwise list candidate (family, proto) pairs with their local and remote addresses: the
   family alone when there is no address, the paths for AF_UNIX (removing a stale socket file at
   the local path first), else the getaddrinfo() results for each address, joined by
   (family, proto) and kept only when every given address has an entry.
3. Try the candidates in order: create, set options, bind, connect (unless broadcasting, where
   the remote address is only the default destination). The first that works wins; if none
   does, the first candidate's error is raised.
4. Call the protocol factory, build the transport, and return once connection_made() has run.

Versions: 3.13 accepts any non-stream socket for ``sock=`` ("A datagram socket was expected");
3.11/3.12 insist on SOCK_DGRAM ("A UDP Socket was expected"). None of them has a
``reuse_address`` parameter any more, so passing one is a TypeError from the call itself.
3.12+ refuse a ``sock=`` that a live transport already uses (RuntimeError); 3.11 does not check.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import stat
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ._addresses import _ipaddr_info
from ._socket_options import set_reuse_port
from .transports._datagram import DatagramTransport
from .transports._fdio import LoopIO

logger = logging.getLogger("asyncio")

_ProtocolT = TypeVar("_ProtocolT", bound=asyncio.BaseProtocol)

_ANY_NON_STREAM_SOCKET = sys.version_info >= (3, 13)
# 3.12+ refuse a sock= that a live transport already wraps; 3.11 wraps it a second time.
_REFUSES_SOCKET_IN_USE = sys.version_info >= (3, 12)
_HAS_AF_UNIX = hasattr(socket, "AF_UNIX")

# ((family, proto), (local address, remote address)); either address may be None.
Candidate = tuple[tuple[int, int], tuple[Any, Any]]


async def create_datagram_endpoint(
    io: LoopIO,
    protocol_factory: Callable[[], _ProtocolT],
    local_addr: Any = None,
    remote_addr: Any = None,
    *,
    family: int = 0,
    proto: int = 0,
    flags: int = 0,
    reuse_port: bool | None = None,
    allow_broadcast: bool | None = None,
    sock: socket.socket | None = None,
) -> tuple[asyncio.DatagramTransport, _ProtocolT]:
    """asyncio's ``loop.create_datagram_endpoint``, on the loop behind ``io``."""
    loop = io.loop
    remote_address: Any = None
    if sock is not None:
        _check_given_socket(
            sock, local_addr, remote_addr, family, proto, flags, reuse_port, allow_broadcast
        )
        sock.setblocking(False)
    else:
        candidates = await _candidates(loop, local_addr, remote_addr, family, proto, flags)
        sock, remote_address = await _open_first(
            loop, candidates, local_addr, remote_addr, reuse_port, allow_broadcast
        )
    protocol = protocol_factory()
    waiter: asyncio.Future[None] = loop.create_future()
    if _REFUSES_SOCKET_IN_USE:
        io.check_fd_free(sock, sock.fileno())
    transport = DatagramTransport(io, sock, protocol, remote_address, waiter)
    if loop.get_debug():
        _log_created(local_addr, remote_addr, transport, protocol)
    try:
        await waiter
    except BaseException:
        transport.close()
        raise
    return transport, protocol


def _check_given_socket(
    sock: socket.socket,
    local_addr: Any,
    remote_addr: Any,
    family: int,
    proto: int,
    flags: int,
    reuse_port: bool | None,
    allow_broadcast: bool | None,
) -> None:
    if _ANY_NON_STREAM_SOCKET:
        if sock.type == socket.SOCK_STREAM:
            raise ValueError(f"A datagram socket was expected, got {sock!r}")
    elif sock.type != socket.SOCK_DGRAM:
        raise ValueError(f"A UDP Socket was expected, got {sock!r}")
    options = {
        "local_addr": local_addr,
        "remote_addr": remote_addr,
        "family": family,
        "proto": proto,
        "flags": flags,
        "reuse_port": reuse_port,
        "allow_broadcast": allow_broadcast,
    }
    problems = ", ".join(f"{name}={value}" for name, value in options.items() if value)
    if problems:
        raise ValueError(
            "socket modifier keyword arguments can not be used "
            f"when sock is specified. ({problems})"
        )


async def _candidates(
    loop: asyncio.AbstractEventLoop,
    local_addr: Any,
    remote_addr: Any,
    family: int,
    proto: int,
    flags: int,
) -> Sequence[Candidate]:
    if not (local_addr or remote_addr):
        if family == 0:
            raise ValueError("unexpected address family")
        return [((family, proto), (None, None))]
    if _HAS_AF_UNIX and family == socket.AF_UNIX:
        for addr in (local_addr, remote_addr):
            if addr is not None and not isinstance(addr, str):
                raise TypeError("string is expected")
        if local_addr and local_addr[0] not in (0, "\x00"):
            _remove_stale_socket(local_addr)
        return [((family, proto), (local_addr, remote_addr))]
    return await _resolved_candidates(loop, local_addr, remote_addr, family, proto, flags)


def _remove_stale_socket(path: str) -> None:
    """A socket file left by an earlier endpoint would make bind() fail; asyncio removes it."""
    try:
        if stat.S_ISSOCK(os.stat(path).st_mode):
            os.remove(path)
    except FileNotFoundError:
        pass
    except OSError as err:
        # The directory may let us create sockets without letting us stat or remove them.
        logger.error("Unable to check or remove stale UNIX socket %r: %r", path, err)


async def _resolved_candidates(
    loop: asyncio.AbstractEventLoop,
    local_addr: Any,
    remote_addr: Any,
    family: int,
    proto: int,
    flags: int,
) -> list[Candidate]:
    # (family, proto) -> [local, remote], in the order getaddrinfo() first named each pair.
    pairs: dict[tuple[int, int], list[Any]] = {}
    for index, addr in ((0, local_addr), (1, remote_addr)):
        if addr is None:
            continue
        if not (isinstance(addr, tuple) and len(addr) == 2):
            raise TypeError("2-tuple is expected")
        infos = await _resolve(loop, addr, family, proto, flags)
        if not infos:
            raise OSError("getaddrinfo() returned empty list")
        for info_family, _type, info_proto, _name, address in infos:
            pairs.setdefault((info_family, info_proto), [None, None])[index] = address
    # Keep a pair only if it has an address for each address the caller gave.
    candidates: list[Candidate] = [
        (key, (local, remote))
        for key, (local, remote) in pairs.items()
        if not ((local_addr and local is None) or (remote_addr and remote is None))
    ]
    if not candidates:
        raise ValueError("can not get address information")
    return candidates


async def _resolve(
    loop: asyncio.AbstractEventLoop, addr: tuple[Any, Any], family: int, proto: int, flags: int
) -> list[tuple[Any, ...]]:
    host, port = addr
    info = _ipaddr_info(host, port, family, socket.SOCK_DGRAM, proto)
    if info is not None:
        return [info]  # already an IP address: no lookup, no thread
    return await loop.getaddrinfo(
        host, port, family=family, type=socket.SOCK_DGRAM, proto=proto, flags=flags
    )


async def _open_first(
    loop: asyncio.AbstractEventLoop,
    candidates: Sequence[Candidate],
    local_addr: Any,
    remote_addr: Any,
    reuse_port: bool | None,
    allow_broadcast: bool | None,
) -> tuple[socket.socket, Any]:
    """The first candidate that opens, binds and connects, and its default destination."""
    errors: list[OSError] = []
    for (family, proto), (local_address, remote_address) in candidates:
        sock = None
        try:
            sock = socket.socket(family=family, type=socket.SOCK_DGRAM, proto=proto)
            if reuse_port:
                set_reuse_port(sock)
            if allow_broadcast:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            sock.setblocking(False)
            if local_addr:
                sock.bind(local_address)
            if remote_addr:
                if not allow_broadcast:
                    await loop.sock_connect(sock, remote_address)
                return sock, remote_address
            return sock, None
        except OSError as exc:
            if sock is not None:
                sock.close()
            errors.append(exc)
        except BaseException:
            if sock is not None:
                sock.close()
            raise
    raise errors[0]


def _log_created(
    local_addr: Any, remote_addr: Any, transport: DatagramTransport, protocol: object
) -> None:
    if local_addr:
        logger.info(
            "Datagram endpoint local_addr=%r remote_addr=%r created: (%r, %r)",
            local_addr,
            remote_addr,
            transport,
            protocol,
        )
    else:
        logger.debug(
            "Datagram endpoint remote_addr=%r created: (%r, %r)", remote_addr, transport, protocol
        )
