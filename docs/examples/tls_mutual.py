"""Mutual TLS: the server asks for a client certificate and reads who the client is."""

from __future__ import annotations

import asyncio
import ssl

import trustme

import treadle

ca = trustme.CA()
server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ca.issue_cert("127.0.0.1").configure_cert(server_context)
server_context.verify_mode = ssl.CERT_REQUIRED  # no certificate, no connection
ca.configure_trust(server_context)  # client certificates must come from our CA

client_context = ssl.create_default_context()
ca.configure_trust(client_context)
ca.issue_cert("alice@example.org").configure_cert(client_context)


async def whoami(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    cert = writer.get_extra_info("peercert")
    (kind, name), *_ = cert["subjectAltName"]
    writer.write(f"you are {name} ({kind})\n".encode())
    await writer.drain()
    writer.close()
    await writer.wait_closed()


async def main() -> None:
    server = await asyncio.start_server(whoami, "127.0.0.1", 0, ssl=server_context)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client_context)
    print((await reader.readline()).decode().strip())
    writer.close()
    await writer.wait_closed()
    server.close()
    await server.wait_closed()


treadle.run(main())

# Expected output:
# you are alice@example.org (email)
