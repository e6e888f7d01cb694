"""add_*/remove_* reader and writer on an fd that a live transport owns raise RuntimeError.

Defect 3 of issue 13: treadle refused add_reader/add_writer but let remove_reader/remove_writer
through, silently stopping the transport. asyncio raises for all four, with the socket object
and with its fd number; messages are compared with asyncio's exactly (the transport's repr is
loop-specific, so the comparison replaces it).
"""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import Callable
from typing import Any

import pytest

METHODS = ["add_reader", "add_writer", "remove_reader", "remove_writer"]


async def _connected_transport(
    loop: asyncio.AbstractEventLoop,
) -> tuple[asyncio.Transport, socket.socket, socket.socket]:
    ours, peer = socket.socketpair()
    transport, _ = await loop.connect_accepted_socket(asyncio.Protocol, ours)
    return transport, ours, peer


def _call(loop: asyncio.AbstractEventLoop, method: str, target: object) -> Any:
    if method.startswith("add_"):
        return getattr(loop, method)(target, lambda: None)
    return getattr(loop, method)(target)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("by", ["socket", "number"])
def test_fd_used_by_transport_is_refused(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any], method: str, by: str
) -> None:
    async def main() -> None:
        transport, ours, peer = await _connected_transport(loop)
        target: object = ours if by == "socket" else ours.fileno()
        try:
            with pytest.raises(RuntimeError) as caught:
                _call(loop, method, target)
            expected = f"File descriptor {target!r} is used by transport {transport!r}"
            assert str(caught.value) == expected
            # The transport still reads: nothing was removed.
            peer.sendall(b"still reading")
            await asyncio.sleep(0.05)
            assert not transport.is_closing()
        finally:
            transport.close()
            peer.close()
            await asyncio.sleep(0)

    run(main())


@pytest.mark.parametrize("method", METHODS)
def test_fd_of_closing_transport_is_accepted(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any], method: str
) -> None:
    # asyncio checks is_closing(): once close() was called, the fd is the caller's again.
    async def main() -> None:
        transport, ours, peer = await _connected_transport(loop)
        try:
            transport.close()
            result = _call(loop, method, ours.fileno())
            if method.startswith("add_"):
                assert result is None
                getattr(loop, method.replace("add_", "remove_"))(ours.fileno())
        finally:
            peer.close()
            await asyncio.sleep(0)

    run(main())


@pytest.mark.skipif(sys.version_info < (3, 12), reason="only 3.12+ check the fd")
def test_stream_over_fd_a_live_transport_uses_is_refused(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any]
) -> None:
    # The fd number of a live transport, in a second socket object (as when a socket is
    # closed under its transport and the number is reused). treadle used to wrap it: the new
    # transport's reader queued behind the old one's, and the new stream never read a byte.
    async def main() -> None:
        transport, ours, peer = await _connected_transport(loop)
        same = socket.socket(fileno=ours.fileno())
        try:
            with pytest.raises(RuntimeError) as caught:
                await asyncio.open_connection(sock=same)
            expected = f"File descriptor {same!r} is used by transport {transport!r}"
            assert str(caught.value) == expected
        finally:
            same.detach()  # the fd is the first transport's
            transport.close()
            peer.close()
            await asyncio.sleep(0)

    run(main())
