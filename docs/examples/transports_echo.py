"""A Protocol echo server and a client on treadle: write, half-close, flow control, close."""

from __future__ import annotations

import asyncio

import treadle


class Echo(asyncio.Protocol):
    """Echoes every byte; when the client half-closes, says goodbye and closes."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)

    def eof_received(self) -> bool:
        self.transport.write(b" (bye)")
        self.transport.close()  # flushes what is buffered, then closes
        return True  # keep the transport open until then: we still had something to write


class Client(asyncio.Protocol):
    def __init__(self) -> None:
        self.received = bytearray()
        self.done = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        self.received += data

    def connection_lost(self, exc: Exception | None) -> None:
        self.done.set_result(bytes(self.received))


async def main() -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Echo, "127.0.0.1", 0)
    host, port = server.sockets[0].getsockname()
    print("serving:", server.is_serving())

    transport, client = await loop.create_connection(Client, host, port)
    print("connected to the server's port:", transport.get_extra_info("peername")[1] == port)
    print("write buffer limits (low, high):", transport.get_write_buffer_limits())
    transport.write(b"hello")
    transport.writelines([b", ", b"treadle"])
    transport.write_eof()  # half-close: we are done writing, but still read the reply
    print("reply:", (await client.done).decode())

    server.close()
    await server.wait_closed()
    print("serving:", server.is_serving())


treadle.run(main())

# Expected output:
# serving: True
# connected to the server's port: True
# write buffer limits (low, high): (16384, 65536)
# reply: hello, treadle (bye)
# serving: False
