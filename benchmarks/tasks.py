"""Workloads for tasks: switching between many tasks, and creating and gathering many."""

from __future__ import annotations

import asyncio

from benchmarks.loops import LoopFactory, fresh_loop
from benchmarks.measurement import Measurement, Stopwatch


def sleep0_pingpong(new_loop: LoopFactory, *, tasks: int, iterations: int) -> Measurement:
    """``tasks`` tasks each ``await asyncio.sleep(0)`` ``iterations`` times, all interleaved."""
    with fresh_loop(new_loop) as loop, Stopwatch() as watch:
        loop.run_until_complete(_switch_all(loop, tasks, iterations))
    return watch.measurement(tasks * iterations)


async def _switch(iterations: int) -> None:
    for _ in range(iterations):
        await asyncio.sleep(0)


async def _switch_all(loop: asyncio.AbstractEventLoop, tasks: int, iterations: int) -> None:
    await asyncio.gather(*[loop.create_task(_switch(iterations)) for _ in range(tasks)])


def gather_tasks(new_loop: LoopFactory, *, tasks: int, repeats: int) -> Measurement:
    """create_task for ``tasks`` trivial coroutines, then gather them; ``repeats`` times."""
    with fresh_loop(new_loop) as loop, Stopwatch() as watch:
        for _ in range(repeats):
            results = loop.run_until_complete(_gather_trivial(loop, tasks))
            if len(results) != tasks:
                raise RuntimeError(f"gathered {len(results)} results, expected {tasks}")
    return watch.measurement(tasks * repeats)


async def _trivial(value: int) -> int:
    return value


async def _gather_trivial(loop: asyncio.AbstractEventLoop, tasks: int) -> list[int]:
    return await asyncio.gather(*[loop.create_task(_trivial(i)) for i in range(tasks)])
