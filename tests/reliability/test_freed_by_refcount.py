"""A closed transport, server or datagram endpoint is freed by reference counting alone.

Defect 4 of issue 13: every treadle transport lived in a reference cycle (its flow control held
a bound method of the transport), so closed transports waited for the cyclic GC, and objects
freed late warned late (defect 5). Each body runs with the collector disabled on asyncio's loop
and every treadle poller: once closed and dropped, the object must be gone at once.
"""

from __future__ import annotations

import asyncio
import gc
import os
import socket
import sys
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def no_collector() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class Recorder(asyncio.Protocol, asyncio.DatagramProtocol):
    """Keeps its transport from connection_made to connection_lost, as protocols usually do."""

    def __init__(self) -> None:
        self.transport: asyncio.BaseTransport | None = None
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if not self.lost.done():
            self.lost.set_result(None)


async def _settle() -> None:
    # Closing schedules connection_lost; a few loop iterations let every callback run.
    for _ in range(5):
        await asyncio.sleep(0)


async def _closed_stream_transport(loop: asyncio.AbstractEventLoop) -> weakref.ref[Any]:
    ours, peer = socket.socketpair()
    try:
        transport, protocol = await loop.connect_accepted_socket(Recorder, ours)
        transport.write(b"x")
        transport.close()
        await protocol.lost
        await _settle()
        return weakref.ref(transport)
    finally:
        peer.close()


async def _closed_tcp_pair(loop: asyncio.AbstractEventLoop) -> list[weakref.ref[Any]]:
    accepted: list[asyncio.BaseTransport] = []

    def factory() -> Recorder:
        protocol = Recorder()
        original = protocol.connection_made

        def made(transport: asyncio.BaseTransport) -> None:
            accepted.append(transport)
            original(transport)

        protocol.connection_made = made  # type: ignore[method-assign]  # instance patching
        return protocol

    server = await loop.create_server(factory, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client, protocol = await loop.create_connection(Recorder, "127.0.0.1", port)
    while not accepted:  # noqa: ASYNC110  # the server side has no event to wait on
        await asyncio.sleep(0.01)
    client.write(b"hello")
    client.close()
    await protocol.lost
    server.close()
    await server.wait_closed()
    await _settle()
    refs = [weakref.ref(client), weakref.ref(accepted.pop()), weakref.ref(server)]
    return refs


async def _closed_unix_pair(loop: asyncio.AbstractEventLoop, path: str) -> list[weakref.ref[Any]]:
    server = await loop.create_unix_server(Recorder, path)
    client, protocol = await loop.create_unix_connection(Recorder, path)
    client.close()
    await protocol.lost
    server.close()
    await server.wait_closed()
    await _settle()
    return [weakref.ref(client), weakref.ref(server)]


async def _closed_datagram(loop: asyncio.AbstractEventLoop) -> weakref.ref[Any]:
    transport, protocol = await loop.create_datagram_endpoint(Recorder, local_addr=("127.0.0.1", 0))
    transport.sendto(b"x", transport.get_extra_info("sockname"))
    transport.close()
    await protocol.lost
    await _settle()
    return weakref.ref(transport)


async def _closed_pipes(loop: asyncio.AbstractEventLoop) -> list[weakref.ref[Any]]:
    rfd, wfd = os.pipe()
    reader, rprotocol = await loop.connect_read_pipe(Recorder, os.fdopen(rfd, "rb", 0))
    writer, wprotocol = await loop.connect_write_pipe(Recorder, os.fdopen(wfd, "wb", 0))
    writer.write(b"x")
    writer.close()
    await wprotocol.lost
    await rprotocol.lost  # EOF reaches the reader once the write end is closed
    await _settle()
    return [weakref.ref(reader), weakref.ref(writer)]


def _skip_oracle_before_312(is_oracle: bool) -> None:
    if is_oracle and sys.version_info < (3, 12):
        pytest.skip("asyncio 3.11's socket transports are freed by the cyclic GC (fixed in 3.12)")


def _assert_freed(refs: list[weakref.ref[Any]]) -> None:
    alive = [ref() for ref in refs if ref() is not None]
    assert not alive, f"kept alive until the cyclic GC runs: {alive!r}"


def test_closed_socket_transport_is_freed_by_refcount(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any], no_collector: None, is_oracle: bool
) -> None:
    _skip_oracle_before_312(is_oracle)
    _assert_freed([run(_closed_stream_transport(loop))])


def test_closed_tcp_transports_and_server_are_freed_by_refcount(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any], no_collector: None, is_oracle: bool
) -> None:
    _skip_oracle_before_312(is_oracle)
    _assert_freed(run(_closed_tcp_pair(loop)))


def test_closed_unix_transport_and_server_are_freed_by_refcount(
    loop: asyncio.AbstractEventLoop,
    run: Callable[[Any], Any],
    no_collector: None,
    is_oracle: bool,
    tmp_path: Path,
) -> None:
    _skip_oracle_before_312(is_oracle)
    _assert_freed(run(_closed_unix_pair(loop, str(tmp_path / "sock"))))


def test_closed_datagram_endpoint_is_freed_by_refcount(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any], no_collector: None
) -> None:
    _assert_freed([run(_closed_datagram(loop))])


def test_closed_pipe_transports_are_freed_by_refcount(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any], no_collector: None
) -> None:
    _assert_freed(run(_closed_pipes(loop)))
