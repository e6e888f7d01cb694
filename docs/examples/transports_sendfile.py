"""loop.sendfile(): a file to a transport with os.sendfile(), or read + write when it cannot."""

from __future__ import annotations

import asyncio
import io
import os
import tempfile

import treadle


class Collect(asyncio.Protocol):
    def __init__(self) -> None:
        self.data = bytearray()
        self.done = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        self.data += data

    def eof_received(self) -> None:
        self.done.set_result(bytes(self.data))


async def main() -> None:
    loop = asyncio.get_running_loop()
    receivers: list[Collect] = []

    def collect() -> Collect:
        receivers.append(Collect())
        return receivers[-1]

    server = await loop.create_server(collect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    transport, _ = await loop.create_connection(asyncio.Protocol, "127.0.0.1", port)

    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "data.bin")
        with open(path, "wb") as file:
            file.write(b"0123456789" * 100_000)  # 1 MB
        with open(path, "rb") as file:
            sent = await loop.sendfile(transport, file, offset=10, count=500_000)
            print("zero-copy sendfile sent:", sent, "file position:", file.tell())

    # Not a regular file: os.sendfile() cannot be used, so treadle reads and writes instead.
    sent = await loop.sendfile(transport, io.BytesIO(b"from memory"))
    print("fallback sent:", sent)
    try:
        await loop.sendfile(transport, io.BytesIO(b"x"), fallback=False)
    except asyncio.SendfileNotAvailableError as error:
        print("without fallback:", type(error).__name__)

    transport.write_eof()
    received = await receivers[0].done
    print("received:", len(received), "bytes, ending with", received[-11:])
    transport.close()
    server.close()
    await server.wait_closed()


treadle.run(main())

# Expected output:
# zero-copy sendfile sent: 500000 file position: 500010
# fallback sent: 11
# without fallback: SendfileNotAvailableError
# received: 500011 bytes, ending with b'from memory'
