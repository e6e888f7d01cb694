"""Echo server on the Protocol API: loop.create_server(sock=listener), data_received -> write.

The style uvloop's published charts call "protocol": no task per connection, every byte goes
read -> data_received -> transport.write, so the loop's transport code is what is measured.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    import socket
    from ssl import SSLContext


class _Echo(asyncio.Protocol):
    def __init__(self, done: asyncio.Future[None], tracker: _Tracker) -> None:
        self._done = done
        self._tracker = tracker
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses: no isinstance check here.
        self._transport = cast("asyncio.Transport", transport)

    def data_received(self, data: bytes) -> None:
        assert self._transport is not None
        self._transport.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._tracker.closed(exc)


class _Tracker:
    """Counts finished connections; resolves ``done`` when all expected ones have closed."""

    def __init__(self, connections: int, done: asyncio.Future[None]) -> None:
        self._left = connections
        self._done = done

    def closed(self, exc: Exception | None) -> None:
        if self._done.done():
            return
        if exc is not None:
            self._done.set_exception(exc)
            return
        self._left -= 1
        if self._left == 0:
            self._done.set_result(None)


async def serve(
    loop: asyncio.AbstractEventLoop,
    listener: socket.socket,
    connections: int,
    ssl: SSLContext | None = None,
) -> None:
    """Serve ``connections`` clients until each has closed (over TLS with ``ssl``)."""
    done: asyncio.Future[None] = loop.create_future()
    tracker = _Tracker(connections, done)
    server = await loop.create_server(lambda: _Echo(done, tracker), sock=listener, ssl=ssl)
    try:
        await done
    finally:
        server.close()
        await server.wait_closed()
