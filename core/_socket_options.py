"""Socket options that several ways of making a socket set, with asyncio's errors."""

from __future__ import annotations

import socket


def set_reuse_port(sock: socket.socket) -> None:
    """SO_REUSEPORT, with asyncio's ValueError where the platform lacks it or refuses it."""
    if not hasattr(socket, "SO_REUSEPORT"):
        raise ValueError("reuse_port not supported by socket module")
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    except OSError:
        raise ValueError(
            "reuse_port not supported by socket module, SO_REUSEPORT defined but not implemented."
        ) from None
