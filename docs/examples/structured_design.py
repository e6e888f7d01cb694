"""Trio-style scopes and asyncio's own machinery, nested both ways, on one asyncio Task."""

from __future__ import annotations

import asyncio

import treadle
from treadle.structured import MockClock, current_time, move_on_after, open_nursery, sleep


async def main() -> None:
    task = asyncio.current_task()
    assert task is not None
    print("the task is asyncio's own Task:", type(task) is asyncio.Task)

    # A treadle scope inside asyncio.timeout(): each catches only what it caused.
    async with asyncio.timeout(10):
        with move_on_after(1) as scope:
            await sleep(5)
    print(f"t={current_time():g}: inner scope caught={scope.cancelled_caught}")

    # asyncio.timeout() inside a treadle nursery child.
    async def child() -> None:
        try:
            async with asyncio.timeout(2):
                await sleep(5)
        except TimeoutError:
            print(f"t={current_time():g}: child timed out the asyncio way")

    async with open_nursery() as nursery:
        nursery.start_soon(child)
    print("cancelling() is back to", task.cancelling())


treadle.run(main, clock=MockClock(autojump_threshold=0))

# Expected output:
# the task is asyncio's own Task: True
# t=1: inner scope caught=True
# t=3: child timed out the asyncio way
# cancelling() is back to 0
