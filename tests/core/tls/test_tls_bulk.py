"""Many MiB through TLS both ways at once, byte-exact, with random pause/resume of reading.

Both ends write as fast as their flow control allows through a small write buffer while the
receiving ends toggle pause_reading()/resume_reading() at random; each side checks a digest of
what it received against what the other sent.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random

import pytest
from stream_pairs import Endpoint, Loop, run_body
from tls_support import Certs, tls_pair

# 64 MiB each way takes ~1-2 s per loop on an idle 2-CPU machine (treadle), asyncio ~2x that.
TOTAL = 64 * 1024 * 1024
BLOCK = os.urandom(1024 * 1024 + 7)  # odd size: writes and records never line up


def chunks(total: int, seed: int) -> list[memoryview]:
    rng = random.Random(seed)
    view = memoryview(BLOCK)
    out = []
    sent = 0
    while sent < total:
        size = min(rng.randrange(1, 300_000), total - sent)
        start = rng.randrange(0, len(BLOCK) - size)
        out.append(view[start : start + size])
        sent += size
    return out


class Bulk(asyncio.Protocol):
    def __init__(self) -> None:
        loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.digest = hashlib.sha256()
        self.count = 0
        self.writable = asyncio.Event()
        self.writable.set()
        self.made: asyncio.Future[None] = loop.create_future()
        self.lost: asyncio.Future[BaseException | None] = loop.create_future()
        self.data = b""  # for tls_pair's clean-up, which only looks at transport/lost
        self.events: list[str] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.set_write_buffer_limits(high=64 * 1024)
        self.made.set_result(None)

    def data_received(self, data: bytes) -> None:
        self.digest.update(data)
        self.count += len(data)

    def pause_writing(self) -> None:
        self.writable.clear()

    def resume_writing(self) -> None:
        self.writable.set()

    def connection_lost(self, exc: BaseException | None) -> None:
        self.writable.set()
        self.lost.set_result(exc)

    async def send(self, pieces: list[memoryview]) -> None:
        assert self.transport is not None
        for piece in pieces:
            await self.writable.wait()
            self.transport.write(piece)

    async def receive(self, total: int, toggle_seed: int) -> str:
        rng = random.Random(toggle_seed)
        assert self.transport is not None
        while self.count < total:
            self.transport.pause_reading()
            await asyncio.sleep(rng.random() * 0.002)
            self.transport.resume_reading()
            await asyncio.sleep(rng.random() * 0.01)
        assert self.count == total
        return self.digest.hexdigest()


def expected_digest(pieces: list[memoryview]) -> str:
    digest = hashlib.sha256()
    for piece in pieces:
        digest.update(piece)
    return digest.hexdigest()


@pytest.mark.slow
def test_many_mib_both_ways_with_random_pauses(
    loop: Loop, tcp_endpoint: Endpoint, certs: Certs
) -> None:
    to_server = chunks(TOTAL, 1)
    to_client = chunks(TOTAL, 2)

    async def body() -> None:
        async with tls_pair(loop, tcp_endpoint, certs, Bulk, Bulk) as pair:
            client, server = pair.client, pair.accepted
            results = await asyncio.gather(
                client.send(to_server),
                server.send(to_client),
                server.receive(TOTAL, 3),
                client.receive(TOTAL, 4),
            )
            assert results[2] == expected_digest(to_server)
            assert results[3] == expected_digest(to_client)

    run_body(loop, body, timeout=50)
