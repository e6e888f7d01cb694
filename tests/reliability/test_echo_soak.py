"""A randomized echo soak: many TCP and Unix connections with random sizes, pauses, half-closes
and aborts, on asyncio's loop and every treadle poller.

Each connection sends random chunks (1 B to 1 MiB), sometimes pausing between them; the server
echoes through a protocol that pauses reading at random and honours write flow control. A
connection then half-closes (write_eof) and reads the echo to EOF, comparing SHA-256 hashes, or
aborts mid-way. Afterwards: every hash matched, the loop's fd count is back where it was, and
RSS grew by a bounded amount.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import resource
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# Bounds for a loaded two-core machine: the whole module stays within a few seconds per loop.
CONNECTIONS = 40
RSS_GROWTH_BOUND = 64 * 1024 * 1024


class EchoServer(asyncio.Protocol):
    """Echoes everything; pauses reading at random, and while its own writes are paused."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.transport: asyncio.Transport | None = None
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)
        if self.rng.random() < 0.05 and self.transport.is_reading():
            self.transport.pause_reading()
            loop = asyncio.get_running_loop()
            loop.call_later(self.rng.uniform(0, 0.005), self._resume)

    def _resume(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    def pause_writing(self) -> None:
        assert self.transport is not None
        if self.transport.is_reading():
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        self._resume()

    def eof_received(self) -> bool:
        assert self.transport is not None
        self.transport.close()  # after the echo already queued: close() flushes it
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if not self.lost.done():
            self.lost.set_result(None)


Plan = tuple[list[int], bool, bool]  # chunk sizes, pause between chunks, abort instead of EOF


def _plans(rng: random.Random) -> list[Plan]:
    """Per connection: 1-6 chunks of 1 B to 1 MiB (log-uniform, so small and large both come
    up), pauses for one connection in two, an abort for one in five."""
    return [
        (
            [int(2 ** rng.uniform(0, 20)) for _ in range(rng.randint(1, 6))],
            rng.random() < 0.5,
            rng.random() < 0.2,
        )
        for _ in range(CONNECTIONS)
    ]


async def _client(
    connect: Callable[[], Any], plan: Plan, rng: random.Random
) -> tuple[str, str] | None:
    sizes, pause, abort = plan
    reader, writer = await connect()
    sent = hashlib.sha256()
    got = hashlib.sha256()

    async def read_all() -> None:
        while chunk := await reader.read(65536):
            got.update(chunk)

    receiving = asyncio.ensure_future(read_all())
    try:
        for size in sizes:
            data = rng.randbytes(size)
            sent.update(data)
            writer.write(data)
            await writer.drain()
            if pause:
                await asyncio.sleep(rng.uniform(0, 0.003))
        if abort:
            writer.transport.abort()
            receiving.cancel()
            await asyncio.gather(receiving, return_exceptions=True)
            return None
        writer.write_eof()
        await asyncio.wait_for(receiving, 30)
        return sent.hexdigest(), got.hexdigest()
    finally:
        writer.close()
        await asyncio.gather(writer.wait_closed(), return_exceptions=True)


def _fd_count() -> int:
    return len(os.listdir("/proc/self/fd")) if sys.platform == "linux" else 0


def _rss() -> int:
    if sys.platform == "linux":
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize()
    return 0


async def _soak(plan_list: list[Plan], seed: int, unix_path: str) -> list[tuple[str, str] | None]:
    loop = asyncio.get_running_loop()
    rng = random.Random(seed)
    handlers: list[EchoServer] = []

    def handler() -> EchoServer:
        handlers.append(EchoServer(rng))
        return handlers[-1]

    tcp = await loop.create_server(handler, "127.0.0.1", 0)
    unix = await loop.create_unix_server(handler, unix_path)
    port = tcp.sockets[0].getsockname()[1]

    def connect_tcp() -> Any:
        return asyncio.open_connection("127.0.0.1", port)

    def connect_unix() -> Any:
        return asyncio.open_unix_connection(unix_path)

    try:
        clients = [
            _client(connect_tcp if i % 2 else connect_unix, plan, random.Random(seed + i))
            for i, plan in enumerate(plan_list)
        ]
        return await asyncio.gather(*clients)
    finally:
        tcp.close()
        unix.close()
        await tcp.wait_closed()
        await unix.wait_closed()
        # On 3.11 wait_closed() does not wait for the server's connections (3.12+ does): a
        # handler whose reading is paused when its client aborts has not seen the end yet. It
        # resumes within milliseconds; closing the loop before that would leave its fd open.
        await asyncio.wait_for(asyncio.gather(*(h.lost for h in handlers)), 30)


# hypothesis only picks the seeds: its shrinking heads for tiny plans, which is the opposite of a
# soak; a seeded Random makes realistic plans, and a failing seed is reported and replayable.
@settings(
    max_examples=3,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.integers(0, 2**32))
def test_echo_soak_keeps_every_byte_and_releases_everything(
    loop_factory: Callable[[], asyncio.AbstractEventLoop], tmp_path: Path, seed: int
) -> None:
    plan_list = _plans(random.Random(seed))
    path = tmp_path / f"echo-{seed}.sock"
    fds = _fd_count()
    rss = _rss()
    loop = loop_factory()
    try:
        results = loop.run_until_complete(_soak(plan_list, seed, str(path)))
    finally:
        loop.close()
    for index, result in enumerate(results):
        if result is not None:
            sent, got = result
            assert sent == got, f"connection {index}: the echo differs from what was sent"
    assert _fd_count() == fds, "fds left open by the soak"
    assert _rss() - rss < RSS_GROWTH_BOUND
