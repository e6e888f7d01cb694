"""What a per-task coroutine wrapper would cost: ns per task step, bare vs wrapped.

``python benchmarks/structured/wrapper_cost.py``: 1000 tasks x 100 ``asyncio.sleep(0)`` on a
treadle loop, with asyncio's Task driving the user's coroutine directly, then through a minimal
Python object forwarding ``send``/``throw`` (the cheapest form of the rejected design).
"""

from __future__ import annotations

import asyncio
import collections.abc
import time

from treadle.core import new_event_loop


class Wrap(collections.abc.Coroutine):
    __slots__ = ("_c",)

    def __init__(self, c):
        self._c = c

    def send(self, v):
        return self._c.send(v)  # a real design would check the scope here

    def throw(self, *a):
        return self._c.throw(*a)

    def close(self):
        self._c.close()

    def __await__(self):
        return self


async def worker(n):
    for _ in range(n):
        await asyncio.sleep(0)


async def main(wrap):
    loop = asyncio.get_running_loop()
    if wrap:
        loop.set_task_factory(lambda ev, c, **kw: asyncio.Task(Wrap(c), loop=ev, **kw))
    t0 = time.perf_counter()
    ts = [loop.create_task(worker(100)) for _ in range(1000)]
    await asyncio.gather(*ts)
    return time.perf_counter() - t0


for wrap in (False, True, False, True):
    ev_loop = new_event_loop()
    dt = ev_loop.run_until_complete(main(wrap))
    ev_loop.close()
    print("wrap" if wrap else "bare", f"{dt * 1e9 / 100000:.0f} ns/step")
