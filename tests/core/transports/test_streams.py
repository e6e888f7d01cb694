"""asyncio's streams (open_connection, start_server, StreamReader/Writer) run unchanged."""

from __future__ import annotations

import asyncio

from stream_pairs import Endpoint, Loop, run_body


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A line protocol: echo each line upper-cased; 'BIG n' answers with n bytes; EOF ends."""
    try:
        while line := await reader.readline():
            if line.startswith(b"BIG "):
                writer.write(b"z" * int(line[4:]))
            else:
                writer.write(line.upper())
            await writer.drain()
    finally:
        writer.close()
        await writer.wait_closed()


async def start(loop: Loop, endpoint: Endpoint) -> asyncio.AbstractServer:
    limit = 2**21  # the server reads 1 MiB lines
    if endpoint.kind == "unix":
        return await asyncio.start_unix_server(handle, endpoint.path, limit=limit)
    host = "127.0.0.1" if endpoint.kind == "tcp4" else "::1"
    return await asyncio.start_server(handle, host, 0, limit=limit)


def test_line_echo(loop: Loop, endpoint: Endpoint) -> None:
    async def body() -> None:
        server = await start(loop, endpoint)
        async with server:
            reader, writer = await endpoint.open_streams(endpoint.address_of(server))
            assert writer.get_extra_info("peername") is not None
            for word in (b"hello", b"streams", b"on treadle"):
                writer.write(word + b"\n")
                assert await reader.readline() == word.upper() + b"\n"
            writer.write_eof()
            assert await reader.read() == b""
            assert reader.at_eof()
            writer.close()
            await writer.wait_closed()

    run_body(loop, body)


def test_large_transfers_with_drain(loop: Loop, endpoint: Endpoint) -> None:
    async def body() -> None:
        server = await start(loop, endpoint)
        async with server:
            reader, writer = await endpoint.open_streams(endpoint.address_of(server), limit=2**16)
            size = 3 * 1024 * 1024
            writer.write(f"BIG {size}\n".encode())
            await writer.drain()
            received = await reader.readexactly(size)
            assert received == b"z" * size
            # The other direction: a large write held back by drain() until the peer reads.
            line = b"q" * (1024 * 1024) + b"\n"
            writer.write(line)
            await writer.drain()
            assert await reader.readexactly(len(line)) == line.upper()
            writer.close()
            await writer.wait_closed()

    run_body(loop, body)


def test_many_clients_at_once(loop: Loop, endpoint: Endpoint) -> None:
    async def client(address: object, number: int) -> bytes:
        reader, writer = await endpoint.open_streams(address)
        writer.write(f"client {number}\n".encode())
        reply = await reader.readline()
        writer.close()
        await writer.wait_closed()
        return reply

    async def body() -> None:
        server = await start(loop, endpoint)
        async with server:
            address = endpoint.address_of(server)
            replies = await asyncio.gather(*(client(address, n) for n in range(20)))
            assert replies == [f"CLIENT {n}\n".encode() for n in range(20)]

    run_body(loop, body)


def test_reader_sees_connection_reset(loop: Loop, endpoint: Endpoint) -> None:
    async def body() -> None:
        async def abort_at_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(b"partial")
            writer.transport.abort()

        if endpoint.kind == "unix":
            server = await asyncio.start_unix_server(abort_at_once, endpoint.path)
        else:
            host = "127.0.0.1" if endpoint.kind == "tcp4" else "::1"
            server = await asyncio.start_server(abort_at_once, host, 0)
        async with server:
            reader, writer = await endpoint.open_streams(endpoint.address_of(server))
            data = await reader.read()  # whatever arrived before the abort, then EOF or reset
            assert b"partial".startswith(data) or data == b""
            writer.close()
            try:
                await writer.wait_closed()
            except ConnectionError:
                pass  # the peer's abort may surface here, as on asyncio's loop

    run_body(loop, body)
