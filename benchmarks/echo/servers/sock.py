"""Echo server on the low-level socket API: loop.sock_accept, sock_recv, sock_sendall.

One task per connection, as an application written against this API would have.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from benchmarks.echo.endpoints import tune_accepted

if TYPE_CHECKING:
    import socket

# Large enough that a 100 KiB message needs few reads; the loop under test decides the rest.
_RECV_SIZE = 256 * 1024


async def serve(loop: asyncio.AbstractEventLoop, listener: socket.socket, connections: int) -> None:
    """Accept ``connections`` clients and echo for each until it closes."""
    handlers: list[asyncio.Task[None]] = []
    try:
        for _ in range(connections):
            conn, _address = await loop.sock_accept(listener)
            handlers.append(loop.create_task(_echo(loop, conn)))
        await asyncio.gather(*handlers)
    finally:
        # Reached early only on error or timeout: stop the handlers so their sockets close.
        for handler in handlers:
            handler.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)


async def _echo(loop: asyncio.AbstractEventLoop, conn: socket.socket) -> None:
    with conn:
        conn.setblocking(False)
        tune_accepted(conn)
        while data := await loop.sock_recv(conn, _RECV_SIZE):
            await loop.sock_sendall(conn, data)
