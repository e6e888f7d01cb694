"""Workloads for subprocesses: spawning and reaping children, and moving bytes through a pipe.

Both go through ``asyncio.create_subprocess_exec``, the API users call, so what is measured is
the loop's whole path: Popen, wrapping the pipes, watching the child, and delivering the exit.

The ``epoll-floor`` entry (benchmarks/loops.py) runs the same children with no event loop at
all, for context: ``Popen(...).wait()`` one after another, and a bare epoll pump of ``os.write``
and ``os.read`` through ``cat``. A loop's distance to it is what the loop and asyncio's
``Process``/stream objects cost; docs/performance.md ("Subprocesses") reads it.
"""

from __future__ import annotations

import asyncio
import os
import select
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
    if getattr(new_loop, "subprocess_floor", False):
        if concurrency != 1:
            raise ValueError("the floor spawns one child at a time")
        with Stopwatch() as watch:
            for _ in range(processes):
                if subprocess.Popen([true]).wait() != 0:
                    raise RuntimeError(f"{true} failed")
        return watch.measurement(processes)
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
    if getattr(new_loop, "subprocess_floor", False):
        with Stopwatch() as watch:
            for _ in range(children):
                received = _pump_through_cat(cat, total, chunk)
                if received != total:
                    raise RuntimeError(f"cat returned {received} bytes, expected {total}")
        return watch.measurement(mebibytes * children)
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


def _pump_through_cat(program: str, total: int, chunk: int) -> int:
    """The floor of pipe_throughput: one epoll, os.write() and os.read(), no loop, no streams."""
    child = subprocess.Popen([program], stdin=PIPE, stdout=PIPE, bufsize=0)
    assert child.stdin is not None
    assert child.stdout is not None
    out, inp = child.stdout.fileno(), child.stdin.fileno()
    os.set_blocking(out, False)
    os.set_blocking(inp, False)
    block = memoryview(b"x" * chunk)
    pending = block[:0]  # what is left of the chunk being written
    # One receive buffer, as the loops keep: os.read(256 KiB) would allocate (and with glibc,
    # mmap and unmap) that much per call.
    into = [memoryview(bytearray(256 * 1024))]
    sent = received = 0
    with select.epoll() as poller:
        poller.register(out, select.EPOLLIN)
        poller.register(inp, select.EPOLLOUT)
        while received < total:
            for fd, _ in poller.poll():
                if fd == out:
                    received += os.readv(out, into)
                    continue
                if not pending:
                    pending, sent = block, sent + chunk
                try:
                    pending = pending[os.write(inp, pending) :]
                except BlockingIOError:
                    continue
                if not pending and sent >= total:
                    poller.unregister(inp)
                    child.stdin.close()
    child.stdout.close()
    child.wait()
    return received
