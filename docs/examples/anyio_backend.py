"""AnyIO code on treadle's own backend: task groups, a deadline, a thread and a TCP echo."""

from __future__ import annotations

import anyio
import sniffio
from anyio.abc import SocketAttribute, SocketStream

import treadle  # noqa: F401  # importing treadle makes backend="treadle" known to AnyIO


async def echo(stream: SocketStream) -> None:
    async with stream:
        async for chunk in stream:
            await stream.send(chunk.upper())


async def main() -> None:
    print("async library:", sniffio.current_async_library())
    with anyio.move_on_after(0.05) as scope:
        await anyio.sleep(10)
    print("deadline cancelled the sleep:", scope.cancelled_caught)
    print("from a worker thread:", await anyio.to_thread.run_sync(sum, [1, 2, 3]))
    async with await anyio.create_tcp_listener(local_host="127.0.0.1") as listener:
        port = listener.extra(SocketAttribute.local_port)
        async with anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, echo)
            async with await anyio.connect_tcp("127.0.0.1", port) as client:
                await client.send(b"hello, treadle")
                print("echoed:", (await client.receive()).decode())
            tg.cancel_scope.cancel()


anyio.run(main, backend="treadle")

# Expected output:
# async library: treadle
# deadline cancelled the sleep: True
# from a worker thread: 6
# echoed: HELLO, TREADLE
