"""``anyio.wait_readable`` / ``wait_writable`` / ``notify_closing`` on the loop's reader/writer API.

One waiter per fd and direction (AnyIO's rule: a second one is BusyResourceError). A waiter's
future resolves True when the fd is ready and False when ``notify_closing`` was called, which the
waiter turns into ClosedResourceError. Tables are per loop.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from anyio import BusyResourceError, ClosedResourceError


class _Waits:
    __slots__ = ("readers", "writers")

    def __init__(self) -> None:
        self.readers: dict[int, asyncio.Future[bool]] = {}
        self.writers: dict[int, asyncio.Future[bool]] = {}


_tables: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Waits] = weakref.WeakKeyDictionary()


def _waits(loop: asyncio.AbstractEventLoop) -> _Waits:
    waits = _tables.get(loop)
    if waits is None:
        waits = _tables[loop] = _Waits()
    return waits


def _fileno(obj: Any) -> int:
    return obj if isinstance(obj, int) else int(obj.fileno())


def _ready(future: asyncio.Future[bool]) -> None:
    if not future.done():
        future.set_result(True)


async def wait_readable(obj: Any) -> None:
    loop = asyncio.get_running_loop()
    fd = _fileno(obj)
    table = _waits(loop).readers
    if fd in table:
        raise BusyResourceError("reading from")
    future: asyncio.Future[bool] = loop.create_future()
    table[fd] = future
    loop.add_reader(fd, _ready, future)
    try:
        ready = await future
    finally:
        if table.get(fd) is future:
            del table[fd]
            loop.remove_reader(fd)
    if not ready:
        raise ClosedResourceError


async def wait_writable(obj: Any) -> None:
    loop = asyncio.get_running_loop()
    fd = _fileno(obj)
    table = _waits(loop).writers
    if fd in table:
        raise BusyResourceError("writing to")
    future: asyncio.Future[bool] = loop.create_future()
    table[fd] = future
    loop.add_writer(fd, _ready, future)
    try:
        ready = await future
    finally:
        if table.get(fd) is future:
            del table[fd]
            loop.remove_writer(fd)
    if not ready:
        raise ClosedResourceError


def notify_closing(obj: Any) -> None:
    loop = asyncio.get_running_loop()
    fd = _fileno(obj)
    waits = _waits(loop)
    reader = waits.readers.pop(fd, None)
    if reader is not None:
        loop.remove_reader(fd)
        if not reader.done():
            reader.set_result(False)
    writer = waits.writers.pop(fd, None)
    if writer is not None:
        loop.remove_writer(fd)
        if not writer.done():
            writer.set_result(False)
