"""Unix datagram sockets: create_datagram_endpoint with family=AF_UNIX and paths for addresses."""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
from typing import Any

import treadle


class Inbox(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received: asyncio.Queue[tuple[bytes, Any]] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.received.put_nowait((data, addr))


async def main(directory: str) -> None:
    loop = asyncio.get_running_loop()
    server_path = os.path.join(directory, "server.sock")
    client_path = os.path.join(directory, "client.sock")

    server, server_inbox = await loop.create_datagram_endpoint(
        Inbox, local_addr=server_path, family=socket.AF_UNIX
    )
    # Bind the client too, or the server would have no address to answer to.
    client, client_inbox = await loop.create_datagram_endpoint(
        Inbox, local_addr=client_path, remote_addr=server_path, family=socket.AF_UNIX
    )
    client.sendto(b"ping")
    data, sender = await server_inbox.received.get()
    print("server got", data, "from", os.path.basename(sender))
    server.sendto(b"pong", sender)
    data, sender = await client_inbox.received.get()
    print("client got", data, "from", os.path.basename(sender))

    # A socket file left behind by an earlier endpoint is replaced, as asyncio does.
    client.close()
    server.close()
    await asyncio.sleep(0)
    print("socket files left behind:", sorted(os.listdir(directory)))
    again, _ = await loop.create_datagram_endpoint(
        Inbox, local_addr=server_path, family=socket.AF_UNIX
    )
    print("bound again:", os.path.basename(again.get_extra_info("sockname")))
    again.close()
    await asyncio.sleep(0)


with tempfile.TemporaryDirectory() as directory:
    treadle.run(main(directory))

# Expected output:
# server got b'ping' from client.sock
# client got b'pong' from server.sock
# socket files left behind: ['client.sock', 'server.sock']
# bound again: server.sock
