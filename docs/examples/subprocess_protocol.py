"""loop.subprocess_exec with a SubprocessProtocol: the callbacks, and the order they come in."""

from __future__ import annotations

import asyncio
import sys

import treadle


class Recorder(asyncio.SubprocessProtocol):
    def __init__(self, done: asyncio.Future[None]) -> None:
        self.done = done
        self.events: list[str] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.events.append("connection_made")

    def pipe_data_received(self, fd: int, data: bytes | str) -> None:
        self.events.append(f"pipe_data_received({fd}, {data!r})")

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        self.events.append(f"pipe_connection_lost({fd})")

    def process_exited(self) -> None:
        self.events.append("process_exited")

    def connection_lost(self, exc: Exception | None) -> None:
        self.events.append("connection_lost")
        self.done.set_result(None)


async def main() -> None:
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    transport, protocol = await loop.subprocess_exec(
        lambda: Recorder(done),
        sys.executable, "-c", "import os; os.write(1, b'hi')",
        stdin=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    print("pid is an int:", isinstance(transport.get_pid(), int))
    await done
    print("returncode:", transport.get_returncode())
    transport.close()
    events = protocol.events
    print("first:", events[0])
    print("then:", events[1])
    # The child may exit before or after its stdout closes: these two come in either order.
    print("then, in some order:", sorted(events[2:4]))
    print("last:", events[4])


treadle.run(main())

# Expected output:
# pid is an int: True
# returncode: 0
# first: connection_made
# then: pipe_data_received(1, b'hi')
# then, in some order: ['pipe_connection_lost(1)', 'process_exited']
# last: connection_lost
