"""TLS handshake rate: new TLS connections per second, client and server on the loop under test.

``concurrency`` client tasks each open a TLS connection to a TLS server on the same loop, wait
until both sides saw connection_made(), close it (close_notify both ways) and wait until both
sides saw connection_lost(), ``connections`` times in all. Both ends' TLS code is the loop's,
so the figure is the loop's cost of a connection's whole TLS life, crypto included (TLS 1.3,
trustme's ECDSA P-256 keys): the crypto is the same for every loop, the rest is the loop's.
"""

from __future__ import annotations

import asyncio
import socket

from benchmarks.echo import tls
from benchmarks.loops import LoopFactory, fresh_loop
from benchmarks.measurement import Measurement, Stopwatch


class _Side(asyncio.Protocol):
    def __init__(self) -> None:
        loop = asyncio.get_running_loop()
        self.made: asyncio.Future[asyncio.BaseTransport] = loop.create_future()
        self.lost: asyncio.Future[None] = loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.made.set_result(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None:
            self.lost.set_exception(exc)
        else:
            self.lost.set_result(None)


def handshakes(new_loop: LoopFactory, *, connections: int, concurrency: int) -> Measurement:
    """Open and close ``connections`` TLS connections, ``concurrency`` at a time."""
    server_context = tls.server_context()
    client_context = tls.client_context(tls.cafile())
    with fresh_loop(new_loop) as loop, Stopwatch() as watch:
        loop.run_until_complete(
            _run(loop, server_context, client_context, connections, concurrency)
        )
    return watch.measurement(connections)


async def _run(
    loop: asyncio.AbstractEventLoop,
    server_context: object,
    client_context: object,
    connections: int,
    concurrency: int,
) -> None:
    accepted: asyncio.Queue[_Side] = asyncio.Queue()

    def factory() -> _Side:
        side = _Side()
        accepted.put_nowait(side)
        return side

    server = await loop.create_server(
        factory, "127.0.0.1", 0, family=socket.AF_INET, ssl=server_context, backlog=256
    )
    port = server.sockets[0].getsockname()[1]
    left = [connections]

    async def client() -> None:
        while left[0] > 0:
            left[0] -= 1
            transport, side = await loop.create_connection(
                _Side, "127.0.0.1", port, ssl=client_context, server_hostname=tls.SERVER_HOSTNAME
            )
            transport.close()
            await side.lost

    try:
        await asyncio.gather(*(client() for _ in range(concurrency)))
        for _ in range(connections):
            await (await accepted.get()).lost
    finally:
        server.close()
        await server.wait_closed()
