"""The three layers as Python sees them: one import name, one door per layer."""

from __future__ import annotations

import asyncio

import treadle
from treadle import compat, core

# core: the loop itself, a real asyncio.AbstractEventLoop written from scratch.
print(
    "core.EventLoop is an AbstractEventLoop:",
    issubclass(treadle.EventLoop, asyncio.AbstractEventLoop),
)
print("treadle.EventLoop is core.EventLoop:", treadle.EventLoop is core.EventLoop)

# compat: the ways in, all ending in core.new_event_loop.
print("treadle.run is compat.run:", treadle.run is compat.run)
print("loop_factory is core.new_event_loop:", treadle.new_event_loop is core.new_event_loop)


# The poller is one small interface below the scheduler: the same code runs on each of them.
async def work() -> list[int]:
    return await asyncio.gather(*(asyncio.sleep(0.001 * n, result=n) for n in range(3)))


results = set()
for poller in treadle.available_pollers():
    loop = treadle.new_event_loop(poller=poller)
    try:
        results.add(tuple(loop.run_until_complete(work())))
    finally:
        loop.close()
print("same result on every poller:", results == {(0, 1, 2)})

# Expected output:
# core.EventLoop is an AbstractEventLoop: True
# treadle.EventLoop is core.EventLoop: True
# treadle.run is compat.run: True
# loop_factory is core.new_event_loop: True
# same result on every poller: True
