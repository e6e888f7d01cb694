"""Upgrading a plain connection to TLS in the middle of a conversation (STARTTLS)."""

from __future__ import annotations

import asyncio
import ssl

import trustme

import treadle

ca = trustme.CA()
server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ca.issue_cert("127.0.0.1").configure_cert(server_context)
client_context = ssl.create_default_context()
ca.configure_trust(client_context)


async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    assert await reader.readline() == b"STARTTLS\n"
    writer.write(b"go ahead\n")
    await writer.drain()
    await writer.start_tls(server_context)  # the same streams, TLS from here on
    name = (await reader.readline()).strip().decode()
    writer.write(f"hello {name}, securely\n".encode())
    await writer.drain()
    writer.close()
    await writer.wait_closed()


async def main() -> None:
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"STARTTLS\n")
    print("plain:", (await reader.readline()).decode().strip())
    print("TLS before:", writer.get_extra_info("ssl_object") is not None)
    await writer.start_tls(client_context, server_hostname="127.0.0.1")
    print("TLS after:", writer.get_extra_info("ssl_object") is not None)
    writer.write(b"treadle\n")
    print("encrypted:", (await reader.readline()).decode().strip())
    writer.close()
    await writer.wait_closed()
    server.close()
    await server.wait_closed()


treadle.run(main())

# Expected output:
# plain: go ahead
# TLS before: False
# TLS after: True
# encrypted: hello treadle, securely
