"""Workloads for subprocesses: spawning and reaping children, and moving bytes through a pipe.

Both go through ``asyncio.create_subprocess_exec``, the API users call, so what is measured is
the loop's whole path: Popen, wrapping the pipes, watching the child, and delivering the exit.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess

from benchmarks.loops import LoopFactory, fresh_loop
from benchmarks.measurement import Measurement, Stopwatch

PIPE = subprocess.PIPE


def _program(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name!r} is not on PATH")
    return path


def spawn_wait(new_loop: LoopFactory, *, processes: int, concurrency: int) -> Measurement:
    """Run ``true`` ``processes`` times, ``concurrency`` at a time: spawn, then wait() for it."""
    true = _program("true")
    with fresh_loop(new_loop) as loop, Stopwatch() as watch:
        loop.run_until_complete(_spawn_all(true, processes, concurrency))
    return watch.measurement(processes)


async def _spawn_all(program: str, processes: int, concurrency: int) -> None:
    remaining = processes

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            proc = await asyncio.create_subprocess_exec(program)
            if await proc.wait() != 0:
                raise RuntimeError(f"{program} failed")

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def pipe_throughput(
    new_loop: LoopFactory, *, mebibytes: int, chunk: int, children: int
) -> Measurement:
    """Write ``mebibytes`` MiB through ``cat`` and read them back, ``chunk`` bytes per write,
    for each of ``children`` children in turn (one ``cat`` at a time).

    Ops are MiB: the report's figure is MiB/s through the child and back.
    """
    cat = _program("cat")
    total = mebibytes * 1024 * 1024
    with fresh_loop(new_loop) as loop, Stopwatch() as watch:
        for _ in range(children):
            received = loop.run_until_complete(_through_cat(cat, total, chunk))
            if received != total:
                raise RuntimeError(f"cat returned {received} bytes, expected {total}")
    return watch.measurement(mebibytes * children)


async def _through_cat(program: str, total: int, chunk: int) -> int:
    proc = await asyncio.create_subprocess_exec(program, stdin=PIPE, stdout=PIPE)
    assert proc.stdin is not None
    assert proc.stdout is not None
    block = b"x" * chunk

    async def feed() -> None:
        assert proc.stdin is not None
        sent = 0
        while sent < total:
            proc.stdin.write(block)
            sent += chunk
            await proc.stdin.drain()
        proc.stdin.close()
        await proc.stdin.wait_closed()

    async def drain() -> int:
        assert proc.stdout is not None
        received = 0
        while data := await proc.stdout.read(256 * 1024):
            received += len(data)
        return received

    _, received = await asyncio.gather(feed(), drain())
    await proc.wait()
    return received
