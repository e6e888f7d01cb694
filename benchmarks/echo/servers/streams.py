"""Echo server on asyncio streams: asyncio.start_server(sock=listener), read -> write -> drain.

One task per connection, as an application written with StreamReader/StreamWriter has; the
streams layer itself is asyncio's, running on the loop under test.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import socket

# Large enough that a 100 KiB message needs few reads.
_READ_SIZE = 256 * 1024


async def serve(loop: asyncio.AbstractEventLoop, listener: socket.socket, connections: int) -> None:
    """Serve ``connections`` clients until each has closed."""
    left = connections
    done: asyncio.Future[None] = loop.create_future()

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal left
        try:
            while data := await reader.read(_READ_SIZE):
                writer.write(data)
                await writer.drain()
        except Exception as exc:
            if not done.done():
                done.set_exception(exc)
            raise
        finally:
            writer.close()
            left -= 1
            if left == 0 and not done.done():
                done.set_result(None)

    server = await asyncio.start_server(echo, sock=listener)
    try:
        await done
    finally:
        server.close()
        await server.wait_closed()
