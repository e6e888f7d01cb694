"""The loop under test against other TLS stacks: a blocking ``ssl`` socket and asyncio's loop.

The other side runs in a thread: a blocking ssl server or client, or asyncio's own loop with
a stream server or client. The loop under test is every loop kind, asyncio's included.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import socket
import threading
from collections.abc import Coroutine, Iterator
from typing import Any

from peers import blocking_peer, echo_tls_server
from stream_pairs import Loop, Recorder, run_body
from tls_support import Certs, in_thread

PAYLOAD = bytes(range(256)) * 300


@contextlib.contextmanager
def asyncio_thread() -> Iterator[asyncio.AbstractEventLoop]:
    """asyncio's own loop running in a thread; stopped, joined and closed on exit."""
    other = asyncio.new_event_loop()
    thread = threading.Thread(target=other.run_forever, name="asyncio-peer")
    thread.start()
    try:
        yield other
    finally:
        other.call_soon_threadsafe(other.stop)
        thread.join(10)
        other.close()


async def on(other: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any]) -> Any:
    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, other))


async def echo_handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()
    await writer.wait_closed()


async def exchange(loop: Loop, address: Any, certs: Certs) -> None:
    """Send PAYLOAD to an echo server, read it back, close with close_notify."""
    transport, client = await loop.create_connection(Recorder, *address[:2], ssl=certs.client)
    transport.write(PAYLOAD)
    assert await client.received(len(PAYLOAD)) == PAYLOAD
    transport.close()
    assert await client.lost is None


def test_client_against_a_blocking_ssl_server(loop: Loop, certs: Certs) -> None:
    async def body() -> None:
        with blocking_peer(echo_tls_server(certs.server)) as address:
            await exchange(loop, address, certs)

    run_body(loop, body)


async def serve_one_echo(certs: Certs, address: concurrent.futures.Future[Any]) -> None:
    """On asyncio's loop: serve one echo connection, then close the server (all in its thread)."""
    finished = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await echo_handler(reader, writer)
        finally:
            finished.set()

    server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=certs.server)
    address.set_result(server.sockets[0].getsockname())
    try:
        await finished.wait()
    finally:
        server.close()
        await server.wait_closed()


def test_client_against_an_asyncio_server(loop: Loop, certs: Certs) -> None:
    async def body() -> None:
        with asyncio_thread() as other:
            address: concurrent.futures.Future[Any] = concurrent.futures.Future()
            serving = asyncio.run_coroutine_threadsafe(serve_one_echo(certs, address), other)
            await exchange(loop, await asyncio.wrap_future(address), certs)
            await asyncio.wrap_future(serving)

    run_body(loop, body)


async def serve_echo(loop: Loop, certs: Certs) -> asyncio.AbstractServer:
    return await asyncio.start_server(echo_handler, "127.0.0.1", 0, ssl=certs.server)


def blocking_client(certs: Certs, address: Any) -> bytes:
    with (
        socket.create_connection(address[:2], timeout=10) as raw,
        certs.client.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        tls.sendall(PAYLOAD)
        received = b""
        while len(received) < len(PAYLOAD):
            received += tls.recv(65536)
        tls.unwrap()
    return received


def test_server_against_a_blocking_ssl_client(loop: Loop, certs: Certs) -> None:
    async def body() -> None:
        server = await serve_echo(loop, certs)
        try:
            received = await in_thread(blocking_client, certs, server.sockets[0].getsockname())
            assert received == PAYLOAD
        finally:
            server.close()
            await server.wait_closed()

    run_body(loop, body)


def test_server_against_an_asyncio_client(loop: Loop, certs: Certs) -> None:
    async def client(address: Any) -> bytes:
        reader, writer = await asyncio.open_connection(*address[:2], ssl=certs.client)
        writer.write(PAYLOAD)
        received = await reader.readexactly(len(PAYLOAD))
        writer.close()
        await writer.wait_closed()
        return received

    async def body() -> None:
        server = await serve_echo(loop, certs)
        try:
            with asyncio_thread() as other:
                assert await on(other, client(server.sockets[0].getsockname())) == PAYLOAD
        finally:
            server.close()
            await server.wait_closed()

    run_body(loop, body)
