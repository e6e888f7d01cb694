"""connect_read_pipe / connect_write_pipe: wrap a pipe's file object in a transport.

Both follow asyncio's order: call the protocol factory, build the transport (which checks the fd
and raises ValueError for a regular file), then wait until connection_made() has run. If the
caller is cancelled while waiting, the transport is closed before the cancellation propagates.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from .transports._fdio import LoopIO
from .transports._pipes import ReadPipeTransport, WritePipeTransport

logger = logging.getLogger("asyncio")

_ProtocolT = TypeVar("_ProtocolT", bound=asyncio.BaseProtocol)


async def connect_read_pipe(
    io: LoopIO, protocol_factory: Callable[[], _ProtocolT], pipe: Any
) -> tuple[asyncio.ReadTransport, _ProtocolT]:
    """asyncio's ``loop.connect_read_pipe``: ``pipe`` is a file-like object with fileno()."""
    protocol = protocol_factory()
    waiter: asyncio.Future[None] = io.loop.create_future()
    transport = ReadPipeTransport(io, pipe, protocol, waiter)
    await _connected(transport, waiter)
    if io.loop.get_debug():
        logger.debug("Read pipe %r connected: (%r, %r)", pipe.fileno(), transport, protocol)
    return transport, protocol


async def connect_write_pipe(
    io: LoopIO, protocol_factory: Callable[[], _ProtocolT], pipe: Any
) -> tuple[asyncio.WriteTransport, _ProtocolT]:
    """asyncio's ``loop.connect_write_pipe``: ``pipe`` is a file-like object with fileno()."""
    protocol = protocol_factory()
    waiter: asyncio.Future[None] = io.loop.create_future()
    transport = WritePipeTransport(io, pipe, protocol, waiter)
    await _connected(transport, waiter)
    if io.loop.get_debug():
        logger.debug("Write pipe %r connected: (%r, %r)", pipe.fileno(), transport, protocol)
    return transport, protocol


async def _connected(transport: asyncio.BaseTransport, waiter: asyncio.Future[None]) -> None:
    try:
        await waiter
    except BaseException:
        transport.close()
        raise
