"""Testing a TLS server with trustme: a CA per test run, contexts in three lines each."""

from __future__ import annotations

import asyncio
import ssl

import trustme

import treadle


async def uppercase_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write((await reader.readline()).upper())
    await writer.drain()
    writer.close()
    await writer.wait_closed()


async def check_server(ca: trustme.CA) -> None:
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "::1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)

    server = await asyncio.start_server(uppercase_server, "127.0.0.1", 0, ssl=server_context)
    port = server.sockets[0].getsockname()[1]
    async with server:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client_context)
        writer.write(b"it works\n")
        assert await reader.readline() == b"IT WORKS\n"
        writer.close()
        await writer.wait_closed()

        # The failure a test wants to see: a client that does not trust our CA.
        try:
            await asyncio.open_connection("127.0.0.1", port, ssl=ssl.create_default_context())
        except ssl.SSLCertVerificationError as exc:
            print("untrusted CA refused:", exc.verify_message)


treadle.run(check_server(trustme.CA()))
print("TLS server checked")

# Expected output:
# untrusted CA refused: unable to get local issuer certificate
# TLS server checked
