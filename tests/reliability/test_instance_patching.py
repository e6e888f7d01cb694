"""Transports accept instance attributes, methods included, as asyncio's do.

Defect 7 of issue 13: uvicorn's suite replaces ``transport.write`` on a live transport; treadle's
SocketTransport had ``__slots__`` without ``__dict__`` and refused ("'SocketTransport' object
attribute 'write' is read-only"). docs/design.md records the cost measured for allowing it.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any


def test_transport_write_can_be_replaced_on_the_instance(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any]
) -> None:
    async def main() -> bytes:
        ours, peer = socket.socketpair()
        transport, _ = await loop.connect_accepted_socket(asyncio.Protocol, ours)
        original = transport.write
        seen: list[bytes] = []

        def spy(data: bytes | bytearray | memoryview) -> None:
            seen.append(bytes(data))
            original(data)

        try:
            transport.write = spy  # type: ignore[method-assign]  # what uvicorn's tests do
            transport.write(b"patched")
            transport.custom_attribute = 1  # type: ignore[attr-defined]  # so do others
            peer.settimeout(5)
            received = peer.recv(100)
            assert seen == [b"patched"]
            del transport.write  # type: ignore[method-assign]  # back to the class's method
            transport.write(b"!")
            return received + peer.recv(100)
        finally:
            transport.close()
            peer.close()
            await asyncio.sleep(0)

    assert run(main()) == b"patched!"
