"""asyncio streams, unchanged, on treadle: a line server over TCP and over a Unix socket."""

from __future__ import annotations

import asyncio
import os
import tempfile

import treadle


async def shout(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """The server's side of one connection: answer each line, close at end of input."""
    while line := await reader.readline():
        writer.write(line.upper())
        await writer.drain()
    writer.close()


async def ask(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, text: str) -> str:
    writer.write(text.encode() + b"\n")
    reply = await reader.readline()
    writer.write_eof()  # no more questions: the server sees end of input and closes
    assert await reader.read() == b""
    writer.close()
    await writer.wait_closed()
    return reply.decode().strip()


async def main() -> None:
    async with await asyncio.start_server(shout, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        print("tcp:", await ask(reader, writer, "hello over tcp"))

    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "shout.sock")
        async with await asyncio.start_unix_server(shout, path):
            reader, writer = await asyncio.open_unix_connection(path)
            print("unix:", await ask(reader, writer, "hello over a unix socket"))
        print("socket file removed on close:", not os.path.exists(path))


treadle.run(main())

# Expected output:
# tcp: HELLO OVER TCP
# unix: HELLO OVER A UNIX SOCKET
# socket file removed on close: True
