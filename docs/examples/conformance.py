"""The same misuse on asyncio's loop and on treadle's: the same exception, word for word."""

from __future__ import annotations

import asyncio
import socket

import treadle


async def remove_reader_of_a_transport() -> str:
    loop = asyncio.get_running_loop()
    ours, peer = socket.socketpair()
    transport, _ = await loop.connect_accepted_socket(asyncio.Protocol, ours)
    fd = ours.fileno()
    try:
        loop.remove_reader(fd)  # the transport owns this fd
    except RuntimeError as exc:
        # The fd number and the transport's repr vary; the rest of the message is asyncio's.
        message = str(exc).replace(repr(transport), "<transport>")
        return message.replace(f"descriptor {fd} ", "descriptor <fd> ")
    finally:
        transport.close()
        peer.close()
        await asyncio.sleep(0)
    return "no error"


on_asyncio = asyncio.run(remove_reader_of_a_transport())
on_treadle = treadle.run(remove_reader_of_a_transport())
print("treadle:", on_treadle)
print("same message as asyncio:", on_asyncio == on_treadle)

# Expected output:
# treadle: File descriptor <fd> is used by transport <transport>
# same message as asyncio: True
