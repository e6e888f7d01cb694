"""Pipes: talk to a child process through its stdin and stdout with connect_*_pipe."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import treadle

# The child upper-cases whatever it reads, until end of file.
CHILD = "import sys\nsys.stdout.buffer.write(sys.stdin.buffer.read().upper())\n"


class Collect(asyncio.Protocol):
    def __init__(self) -> None:
        self.data = bytearray()
        self.done = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        self.data += data

    def eof_received(self) -> None:
        print("reader: end of file")

    def connection_lost(self, exc: Exception | None) -> None:
        self.done.set_result(exc)


class Feed(asyncio.Protocol):
    """Prints flow control events: the pipe holds far less than we write at once."""

    def __init__(self) -> None:
        self.done = asyncio.get_running_loop().create_future()

    def pause_writing(self) -> None:
        print("writer: pause_writing (buffer above the high mark)")

    def resume_writing(self) -> None:
        print("writer: resume_writing (buffer drained)")

    def connection_lost(self, exc: Exception | None) -> None:
        self.done.set_result(exc)


async def main(child: subprocess.Popen[bytes]) -> None:
    loop = asyncio.get_running_loop()
    # The transports take over the file objects: they make the fds non-blocking, and close them.
    writer, feed = await loop.connect_write_pipe(Feed, child.stdin)
    reader, collect = await loop.connect_read_pipe(Collect, child.stdout)

    payload = b"treadle " * 200_000  # 1.6 MB
    writer.write(payload)
    print("writer: buffered", writer.get_write_buffer_size() > 0)
    writer.close()  # flushes what is buffered, then closes the child's stdin
    await feed.done
    print("reader: connection lost with", await collect.done, "- closing:", reader.is_closing())
    print("echoed correctly:", bytes(collect.data) == payload.upper())
    print("child exit status:", await loop.run_in_executor(None, child.wait))


child = subprocess.Popen(
    [sys.executable, "-c", CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE
)
treadle.run(main(child))

# Expected output:
# writer: pause_writing (buffer above the high mark)
# writer: buffered True
# writer: resume_writing (buffer drained)
# reader: end of file
# reader: connection lost with None - closing: True
# echoed correctly: True
# child exit status: 0
