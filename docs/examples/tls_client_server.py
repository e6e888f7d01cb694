"""A TLS echo server and client on treadle, with certificates made on the spot by trustme."""

from __future__ import annotations

import asyncio
import ssl

import trustme

import treadle

# A throwaway certificate authority and a certificate for 127.0.0.1 signed by it.
ca = trustme.CA()
server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ca.issue_cert("127.0.0.1").configure_cert(server_context)
client_context = ssl.create_default_context()
ca.configure_trust(client_context)


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(1024):
        writer.write(data)
        await writer.drain()
    writer.close()  # sends close_notify, then closes the socket
    await writer.wait_closed()


async def main() -> None:
    server = await asyncio.start_server(echo, "127.0.0.1", 0, ssl=server_context)
    port = server.sockets[0].getsockname()[1]

    # server_hostname defaults to the host; the certificate must name it.
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client_context)
    print("TLS version:", writer.get_extra_info("ssl_object").version())
    print("server certificate for:", writer.get_extra_info("peercert")["subjectAltName"])
    writer.write(b"hello over TLS")
    print("echoed:", await reader.readexactly(14))
    writer.close()
    await writer.wait_closed()

    # A certificate that does not name the host we asked for: the connection call raises.
    try:
        await asyncio.open_connection(
            "127.0.0.1", port, ssl=client_context, server_hostname="example.org"
        )
    except ssl.SSLCertVerificationError as exc:
        print("wrong name:", exc.verify_message)

    server.close()
    await server.wait_closed()


treadle.run(main())

# Expected output:
# TLS version: TLSv1.3
# server certificate for: (('IP Address', '127.0.0.1'),)
# echoed: b'hello over TLS'
# wrong name: Hostname mismatch, certificate is not valid for 'example.org'.
