"""Turning a sock_connect() address into something socket.connect() accepts.

asyncio resolves the address of an AF_INET/AF_INET6 socket before connecting, and skips
getaddrinfo() when the host is already an IP literal. The order of the steps below is part of
the behaviour: which malformed address raises which TypeError/ValueError depends on which
operation touches the bad value first, so they run in the order asyncio runs them.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio

# Protocols for which an IP literal needs no lookup; anything else (e.g. SCTP) goes through
# getaddrinfo(), as in asyncio.
_LITERAL_PROTOS = frozenset({0, socket.IPPROTO_TCP, socket.IPPROTO_UDP})
_HAS_IPV6 = hasattr(socket, "AF_INET6")


def _ipaddr_info(
    host: Any,
    port: Any,
    family: int,
    type: int,  # asyncio's parameter name, shadowing the builtin on purpose
    proto: int,
    flowinfo: Any = 0,
    scopeid: Any = 0,
) -> tuple[Any, ...] | None:
    """The getaddrinfo() entry for *host* if it is already an IP address, else None.

    Named and shaped like asyncio's helper on purpose: an address tuple with more than four
    items reaches this call unpacked, and the TypeError Python raises then names the function
    and its arity. Matching that message is the only reason for the name.
    """
    if not hasattr(socket, "inet_pton") or proto not in _LITERAL_PROTOS or host is None:
        return None
    if type == socket.SOCK_STREAM:
        proto = socket.IPPROTO_TCP
    elif type == socket.SOCK_DGRAM:
        proto = socket.IPPROTO_UDP
    else:
        return None
    port = _literal_port(port)
    if port is None:
        return None  # a service name such as "http": only getaddrinfo() knows it
    families = [family]
    if family == socket.AF_UNSPEC:
        families = [socket.AF_INET, socket.AF_INET6] if _HAS_IPV6 else [socket.AF_INET]
    if isinstance(host, bytes):
        host = host.decode("idna")
    if "%" in host:
        return None  # inet_pton() on Linux rejects an IPv6 zone ("fe80::1%lo"); let getaddrinfo
    for af in families:
        try:
            socket.inet_pton(af, host)
        except OSError:
            continue
        if _HAS_IPV6 and af == socket.AF_INET6:
            return af, type, proto, "", (host, port, flowinfo, scopeid)
        return af, type, proto, "", (host, port)
    return None


def _literal_port(port: Any) -> int | None:
    # An empty or missing port means 0; int() also accepts "80", b"80" and 80.0, as asyncio does.
    if port is None or (isinstance(port, bytes | str) and not port):
        return 0
    try:
        return int(port)
    except (TypeError, ValueError):
        return None


async def resolve_connect_address(
    loop: asyncio.AbstractEventLoop, sock: socket.socket, address: Any
) -> Any:
    """The address sock_connect() hands to sock.connect() for an AF_INET/AF_INET6 *sock*.

    IP literals come back normalized (integer port; IPv6 always as a 4-tuple) without a lookup;
    anything else is resolved with loop.getaddrinfo() for the socket's family, type and proto,
    and the first result wins. Errors are asyncio's: gaierror from the lookup, IndexError on an
    empty result, TypeError/ValueError from a malformed address.
    """
    host, port = address[:2]
    info = _ipaddr_info(host, port, sock.family, sock.type, sock.proto, *address[2:])
    if info is not None:
        return info[4]
    infos = await loop.getaddrinfo(
        host, port, family=sock.family, type=sock.type, proto=sock.proto, flags=0
    )
    return infos[0][4]


def needs_resolution(sock: socket.socket) -> bool:
    """True for the families whose addresses sock_connect() resolves (not AF_UNIX and others)."""
    family = sock.family
    return family == socket.AF_INET or (_HAS_IPV6 and family == socket.AF_INET6)
