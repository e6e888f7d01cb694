"""treadle in one screen: ordinary asyncio code, run on a treadle loop."""

from __future__ import annotations

import asyncio

import treadle


async def greet(name: str, delay: float) -> str:
    await asyncio.sleep(delay)
    return f"hello, {name}"


async def main() -> None:
    loop = asyncio.get_running_loop()
    print("running on a treadle loop:", isinstance(loop, treadle.EventLoop))
    # gather() returns results in argument order, whichever task finishes first.
    for greeting in await asyncio.gather(greet("world", 0.02), greet("treadle", 0.01)):
        print(greeting)


treadle.run(main())

# Expected output:
# running on a treadle loop: True
# hello, world
# hello, treadle
