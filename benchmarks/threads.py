"""Workloads that cross a thread or await a future: the hand-offs between the loop and the world.

- ``future_roundtrip``: a task awaits a fresh loop future that a callback resolves (the wake-up
  path of every awaited I/O event).
- ``getaddrinfo``: sequential ``loop.getaddrinfo`` calls for a numeric host and port, the case
  create_connection and sock_connect see most (no DNS traffic: the answer comes from libc).
- ``run_in_executor``: sequential round trips through the default executor with a no-op.
- ``call_soon_threadsafe``: one thread schedules ``callbacks`` callbacks; timed until the loop has
  run them all.
"""

from __future__ import annotations

import asyncio
import socket
import threading

from benchmarks.loops import LoopFactory, fresh_loop
from benchmarks.measurement import Measurement, Stopwatch


def future_roundtrip(new_loop: LoopFactory, *, rounds: int) -> Measurement:
    with fresh_loop(new_loop) as loop, Stopwatch() as watch:
        loop.run_until_complete(_await_futures(loop, rounds))
    return watch.measurement(rounds)


async def _await_futures(loop: asyncio.AbstractEventLoop, rounds: int) -> None:
    for _ in range(rounds):
        future = loop.create_future()
        loop.call_soon(future.set_result, None)
        await future


def getaddrinfo(new_loop: LoopFactory, *, lookups: int) -> Measurement:
    with fresh_loop(new_loop) as loop:
        with Stopwatch() as watch:
            loop.run_until_complete(_lookups(loop, lookups))
        loop.run_until_complete(loop.shutdown_default_executor())
    return watch.measurement(lookups)


async def _lookups(loop: asyncio.AbstractEventLoop, lookups: int) -> None:
    for _ in range(lookups):
        await loop.getaddrinfo("127.0.0.1", 8080, type=socket.SOCK_STREAM)


def run_in_executor(new_loop: LoopFactory, *, calls: int) -> Measurement:
    with fresh_loop(new_loop) as loop:
        with Stopwatch() as watch:
            loop.run_until_complete(_executor_calls(loop, calls))
        loop.run_until_complete(loop.shutdown_default_executor())
    return watch.measurement(calls)


def _nothing() -> None:
    pass


async def _executor_calls(loop: asyncio.AbstractEventLoop, calls: int) -> None:
    for _ in range(calls):
        await loop.run_in_executor(None, _nothing)


def call_soon_threadsafe(new_loop: LoopFactory, *, callbacks: int) -> Measurement:
    with fresh_loop(new_loop) as loop, Stopwatch() as watch:
        loop.run_until_complete(_flood(loop, callbacks))
    return watch.measurement(callbacks)


async def _flood(loop: asyncio.AbstractEventLoop, callbacks: int) -> None:
    done = loop.create_future()
    remaining = callbacks

    def tick() -> None:
        nonlocal remaining
        remaining -= 1
        if remaining == 0:
            done.set_result(None)

    def producer() -> None:
        schedule = loop.call_soon_threadsafe
        for _ in range(callbacks):
            schedule(tick)

    thread = threading.Thread(target=producer)
    thread.start()
    try:
        await done
    finally:
        thread.join()
