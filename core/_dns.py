"""getaddrinfo / getnameinfo in the default executor, and the 'already an address' fast path.

The blocking resolver runs in a thread, as in asyncio. ``resolved_address`` answers without a
thread when the host is already a numeric IPv4/IPv6 address, which is what sock_connect and
create_connection are given most of the time; it returns None when real resolution is needed.

``getaddrinfo`` itself skips the thread for a numeric host and port (``"127.0.0.1"``, 8080): libc
answers those from the string, with no lookup that could block, so the call is made on the loop
and returns exactly what the thread would have (uvloop has the same shortcut). Measured on the
``getaddrinfo`` benchmark, CPU time per lookup: docs/performance.md. Debug mode keeps the thread
and its log lines, and a shut-down default executor keeps asyncio's RuntimeError.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from typing import Any

logger = logging.getLogger("asyncio")

# (family, type, proto, canonname, sockaddr): typeshed gives each family its own tuple type,
# which one fixed tuple type in a (non-covariant) list could not hold.
AddrInfo = tuple[Any, ...]


async def getaddrinfo(
    loop: asyncio.AbstractEventLoop,
    host: Any,
    port: Any,
    *,
    family: int = 0,
    type: int = 0,
    proto: int = 0,
    flags: int = 0,
    inline_numeric: bool = False,
) -> list[AddrInfo]:
    """asyncio's loop.getaddrinfo; ``inline_numeric`` allows the no-thread path (module doc)."""
    if inline_numeric and _is_numeric_host(host) and _is_numeric_port(port):
        return socket.getaddrinfo(host, port, family, type, proto, flags)
    resolve = _getaddrinfo_logged if loop.get_debug() else socket.getaddrinfo
    return await loop.run_in_executor(None, resolve, host, port, family, type, proto, flags)


async def getnameinfo(
    loop: asyncio.AbstractEventLoop, sockaddr: Any, flags: int = 0
) -> tuple[str, str]:
    return await loop.run_in_executor(None, socket.getnameinfo, sockaddr, flags)


def _is_numeric_host(host: Any) -> bool:
    if isinstance(host, bytes):
        try:
            host = host.decode("ascii")
        except UnicodeDecodeError:
            return False
    if not isinstance(host, str):
        return False
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host)
        except (OSError, ValueError):  # ValueError: an embedded NUL
            continue
        return True
    return False


def _is_numeric_port(port: Any) -> bool:
    # A service name ("http") is looked up in a file or NSS: that stays in the thread.
    if port is None or (isinstance(port, int) and not isinstance(port, bool)):
        return True
    if isinstance(port, (str, bytes)):
        return port.isdigit() and port.isascii()
    return False


def _getaddrinfo_logged(
    host: Any, port: Any, family: int, type: int, proto: int, flags: int
) -> list[AddrInfo]:
    """Debug mode: log each lookup, at INFO when it took longer than a slow callback."""
    parts = [f"{host}:{port!r}"]
    for name, value in (("family", family), ("type", type), ("proto", proto), ("flags", flags)):
        if value:
            parts.append(f"{name}={value!r}")
    what = ", ".join(parts)
    logger.debug("Get address info %s", what)
    started = time.monotonic()
    infos = socket.getaddrinfo(host, port, family, type, proto, flags)
    elapsed = time.monotonic() - started
    message = f"Getting address info {what} took {elapsed * 1e3:.3f}ms: {infos!r}"
    (logger.info if elapsed >= 0.1 else logger.debug)(message)
    return infos
