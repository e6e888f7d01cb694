"""Echo server on a datagram endpoint: loop.create_datagram_endpoint(sock=listener) + Protocol.

Each datagram goes straight back to its sender with transport.sendto(). UDP has no connections,
so the udp client ends with an empty datagram; the server is done once ``connections`` clients
have said goodbye that way.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import socket


class _Echo(asyncio.DatagramProtocol):
    def __init__(self, clients: int, done: asyncio.Future[None]) -> None:
        self._waiting_for = clients
        self._done = done
        self._transport: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if data:
            self._transport.sendto(data, addr)
            return
        self._waiting_for -= 1
        if not self._waiting_for and not self._done.done():
            self._done.set_result(None)

    def error_received(self, exc: Exception) -> None:
        if not self._done.done():
            self._done.set_exception(exc)


async def serve(loop: asyncio.AbstractEventLoop, listener: socket.socket, connections: int) -> None:
    """Echo datagrams on ``listener`` until ``connections`` clients sent their empty goodbye."""
    done: asyncio.Future[None] = loop.create_future()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _Echo(connections, done), sock=listener
    )
    try:
        await done
    finally:
        transport.close()
        await asyncio.sleep(0)  # connection_lost() runs, and the transport closes the socket
