"""Transports the echo benchmarks can use: how to listen, how to connect, how to name an address.

Addresses travel to client processes as strings: ``127.0.0.1:PORT`` for tcp, tls and udp, a path
for unix. ``tls`` is TCP with TLS on top: the server wraps it (echo/tls.py has the certificates),
the client connects as for tcp and then does the TLS handshake with the CA file it is given.
Traffic stays on loopback; the unix socket lives in a private temporary directory. For udp
the "listener" is the server's bound datagram socket, and clients connect() theirs to it.
"""

from __future__ import annotations

import os
import socket
import tempfile
from contextlib import contextmanager
from typing import TYPE_CHECKING

from benchmarks.echo.tls import SERVER_HOSTNAME, client_context

if TYPE_CHECKING:
    from collections.abc import Iterator

TRANSPORTS = ("tcp", "unix", "udp", "tls")

_LOOPBACK = "127.0.0.1"

# UDP has no retransmission: a datagram dropped because a receive queue was full leaves its
# client waiting until its timeout. Linux's default queue (212992 bytes of skb memory) drops
# some of ten 10 KiB datagrams arriving together; 1 MiB holds them (capped at rmem_max).
_UDP_RECEIVE_BUFFER = 1024 * 1024


@contextmanager
def listen(transport: str, backlog: int) -> Iterator[tuple[socket.socket, str]]:
    """A non-blocking listening socket and the address clients should connect to."""
    if transport in ("tcp", "tls"):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
            listener.bind((_LOOPBACK, 0))
            listener.listen(backlog)
            listener.setblocking(False)
            yield listener, f"{_LOOPBACK}:{listener.getsockname()[1]}"
    elif transport == "udp":
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _UDP_RECEIVE_BUFFER)
            listener.bind((_LOOPBACK, 0))
            listener.setblocking(False)
            yield listener, f"{_LOOPBACK}:{listener.getsockname()[1]}"
    elif transport == "unix":
        with tempfile.TemporaryDirectory(prefix="treadle-bench-") as directory:
            path = os.path.join(directory, "echo.sock")
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
                listener.bind(path)
                listener.listen(backlog)
                listener.setblocking(False)
                yield listener, path
    else:
        raise ValueError(f"unknown transport {transport!r}: expected one of {TRANSPORTS}")


def connect(transport: str, address: str, timeout: float, cafile: str = "") -> socket.socket:
    """A blocking client socket; for tcp with Nagle off, as request/response traffic wants."""
    if transport == "tls":
        sock = connect("tcp", address, timeout)
        try:
            return client_context(cafile).wrap_socket(sock, server_hostname=SERVER_HOSTNAME)
        except BaseException:
            sock.close()
            raise
    if transport == "tcp":
        host, _, port = address.rpartition(":")
        sock = socket.create_connection((host, int(port)), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock
    if transport == "udp":
        host, _, port = address.rpartition(":")
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _UDP_RECEIVE_BUFFER)
        sock.settimeout(timeout)
        sock.connect((host, int(port)))
        return sock
    if transport == "unix":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(address)
        except BaseException:
            sock.close()
            raise
        return sock
    raise ValueError(f"unknown transport {transport!r}: expected one of {TRANSPORTS}")


def tune_accepted(conn: socket.socket) -> None:
    """Give a server-side connection the same options as the client side (Nagle off on tcp)."""
    if conn.family in (socket.AF_INET, socket.AF_INET6):
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
