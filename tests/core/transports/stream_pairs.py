"""Shared pieces of the stream transport tests: endpoints, a recording protocol, connected pairs.

An ``Endpoint`` knows how to start a server and connect to it over one kind of stream socket
(TCP on 127.0.0.1, TCP on ::1, Unix), using only the loop's public API, so the same test body
runs on asyncio's loop and on treadle's. ``connected_pair`` gives a test both protocols of one
connection and cleans everything up afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Loop = asyncio.AbstractEventLoop

# Every test body is bounded: a hang fails one test in seconds instead of the run.
BODY_TIMEOUT = 10.0

# sun_path holds 108 bytes on Linux (104 on macOS); pytest's tmp_path can be longer.
_MAX_UNIX_PATH = 100


def ipv6_works() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


HAS_IPV6 = ipv6_works()


def run_body(loop: Loop, body: Callable[[], Any], timeout: float = BODY_TIMEOUT) -> Any:
    async def bounded() -> Any:
        return await asyncio.wait_for(body(), timeout)

    return loop.run_until_complete(bounded())


@contextlib.contextmanager
def short_socket_dir(tmp_path: Path) -> Any:
    """tmp_path when a socket path under it fits sun_path, else a short private directory."""
    if len(str(tmp_path / "server.sock")) <= _MAX_UNIX_PATH:
        yield tmp_path
        return
    with tempfile.TemporaryDirectory(prefix="treadle-") as directory:
        yield Path(directory)


@dataclass
class Endpoint:
    """Where a test server listens: kind is "tcp4", "tcp6" or "unix"."""

    kind: str
    directory: Path

    @property
    def family(self) -> int:
        return {"tcp4": socket.AF_INET, "tcp6": socket.AF_INET6, "unix": socket.AF_UNIX}[self.kind]

    @property
    def path(self) -> str:
        return os.fspath(self.directory / "server.sock")

    async def serve(
        self, loop: Loop, factory: Callable[[], asyncio.BaseProtocol], **kwargs: Any
    ) -> asyncio.AbstractServer:
        if self.kind == "unix":
            return await loop.create_unix_server(factory, self.path, **kwargs)
        host = "127.0.0.1" if self.kind == "tcp4" else "::1"
        return await loop.create_server(factory, host, 0, **kwargs)

    def address_of(self, server: asyncio.AbstractServer) -> Any:
        sockets = server.sockets  # type: ignore[attr-defined]
        return sockets[0].getsockname()

    async def connect(
        self,
        loop: Loop,
        factory: Callable[[], asyncio.BaseProtocol],
        address: Any,
        **kwargs: Any,
    ) -> tuple[asyncio.Transport, Any]:
        if self.kind == "unix":
            return await loop.create_unix_connection(factory, address, **kwargs)
        return await loop.create_connection(factory, address[0], address[1], **kwargs)

    async def open_streams(
        self, address: Any, **kwargs: Any
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.kind == "unix":
            return await asyncio.open_unix_connection(address, **kwargs)
        return await asyncio.open_connection(address[0], address[1], **kwargs)


class Recorder(asyncio.Protocol):
    """Records every callback. ``events`` collapses runs of data_received into one "data"."""

    def __init__(self, *, keep_open_on_eof: bool = False) -> None:
        loop = asyncio.get_running_loop()
        self.keep_open_on_eof = keep_open_on_eof
        self.events: list[str] = []
        self.data = bytearray()
        self.chunks: list[bytes] = []
        self.transport: Any = None
        self.made: asyncio.Future[None] = loop.create_future()
        self.lost: asyncio.Future[BaseException | None] = loop.create_future()
        self._changed = asyncio.Event()

    def _note(self, event: str) -> None:
        if not (event == "data" and self.events and self.events[-1] == "data"):
            self.events.append(event)
        self._changed.set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self._note("made")
        self.made.set_result(None)

    def data_received(self, data: bytes) -> None:
        assert type(data) is bytes, type(data)
        self.data += data
        self.chunks.append(data)
        self._note("data")

    def eof_received(self) -> bool:
        self._note("eof")
        return self.keep_open_on_eof

    def pause_writing(self) -> None:
        self._note("pause_writing")

    def resume_writing(self) -> None:
        self._note("resume_writing")

    def connection_lost(self, exc: BaseException | None) -> None:
        self._note("lost")
        self.lost.set_result(exc)  # a second call raises InvalidStateError: exactly once

    async def wait_for(self, condition: Callable[[], bool]) -> None:
        while not condition():
            self._changed.clear()
            await self._changed.wait()

    async def received(self, count: int) -> bytes:
        """Wait until at least ``count`` bytes arrived; fail if the connection ends first."""
        await self.wait_for(lambda: len(self.data) >= count or self.lost.done())
        assert len(self.data) >= count, (len(self.data), count, self.events)
        return bytes(self.data)


@dataclass
class Pair:
    server: asyncio.AbstractServer
    client: Any  # the client's protocol
    accepted: Any  # the server side's protocol of the same connection

    @property
    def client_transport(self) -> Any:
        return self.client.transport

    @property
    def server_transport(self) -> Any:
        return self.accepted.transport


@contextlib.asynccontextmanager
async def connected_pair(
    loop: Loop,
    endpoint: Endpoint,
    server_protocol: Callable[[], Any] = Recorder,
    client_protocol: Callable[[], Any] = Recorder,
    *,
    server_options: dict[str, Any] | None = None,
    client_options: dict[str, Any] | None = None,
) -> AsyncIterator[Pair]:
    """One connection through a fresh server; everything is closed again on exit.

    ``server_options`` and ``client_options`` go to the server and connection calls (``ssl=``
    and friends, for the TLS suite's ``tls_pair``).
    """
    accepted: list[Any] = []
    first: asyncio.Future[Any] = loop.create_future()

    def factory() -> Any:
        protocol = server_protocol()
        accepted.append(protocol)
        if not first.done():
            first.set_result(protocol)
        return protocol

    server = await endpoint.serve(loop, factory, **(server_options or {}))
    try:
        address = endpoint.address_of(server)
        _, client = await endpoint.connect(loop, client_protocol, address, **(client_options or {}))
        try:
            await (await first).made
            yield Pair(server, client, accepted[0])
        finally:
            await _lose(client)
            for protocol in accepted:
                await _lose(protocol)
    finally:
        server.close()
        await server.wait_closed()


async def _lose(protocol: Any) -> None:
    # A protocol without a transport never saw connection_made (a TLS server's application
    # protocol before its handshake ends) and so gets no connection_lost either: nothing to wait
    # for.
    transport = protocol.transport
    if transport is not None and not protocol.lost.done():
        transport.abort()
        await protocol.lost
