"""UDP on treadle: an echo server, a connected client, and an ICMP error in error_received()."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import treadle


class EchoServer(asyncio.DatagramProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.DatagramTransport)
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.transport.sendto(data.upper(), addr)  # reply to whoever sent it


class Client(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.replies: asyncio.Queue[bytes] = asyncio.Queue()
        self.errors: asyncio.Queue[OSError] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.replies.put_nowait(data)

    def error_received(self, exc: Exception) -> None:
        assert isinstance(exc, OSError)
        self.errors.put_nowait(exc)


async def main() -> None:
    loop = asyncio.get_running_loop()

    # Port 0: the OS picks a free port; get_extra_info("sockname") tells which.
    server, _ = await loop.create_datagram_endpoint(EchoServer, local_addr=("127.0.0.1", 0))
    server_addr = server.get_extra_info("sockname")

    # remote_addr connects the socket: sendto() needs no address, and only that peer is heard.
    client, proto = await loop.create_datagram_endpoint(Client, remote_addr=server_addr)
    print("client peername is the server:", client.get_extra_info("peername") == server_addr)
    for word in (b"hello", b"datagram"):
        client.sendto(word)
        print("reply:", await proto.replies.get())
    try:
        client.sendto(b"elsewhere", ("127.0.0.1", 9))
    except ValueError as error:
        print("ValueError:", str(error).split(" or ")[0])
    client.close()

    # Nothing listens on a port we just released: the kernel's ICMP "port unreachable" reaches
    # a connected UDP socket as ConnectionRefusedError, passed to error_received().
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        closed_addr = probe.getsockname()
    lonely, lonely_proto = await loop.create_datagram_endpoint(Client, remote_addr=closed_addr)
    lonely.sendto(b"anyone there?")
    icmp_error = await lonely_proto.errors.get()
    print("error_received:", type(icmp_error).__name__, "- still open:", not lonely.is_closing())
    lonely.close()
    server.close()
    await asyncio.sleep(0)  # let connection_lost() run before the loop closes


treadle.run(main())

# Expected output:
# client peername is the server: True
# reply: b'HELLO'
# reply: b'DATAGRAM'
# ValueError: Invalid address: must be None
# error_received: ConnectionRefusedError - still open: True
