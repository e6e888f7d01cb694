"""Four threads flood a running loop with call_soon_threadsafe; a timer still fires on time."""

from __future__ import annotations

import asyncio
import threading
import time

import treadle

POSTS_PER_THREAD = 20_000


async def main() -> None:
    loop = asyncio.get_running_loop()
    ran = 0
    all_ran = asyncio.Event()

    def bump() -> None:
        nonlocal ran
        ran += 1
        if ran == 4 * POSTS_PER_THREAD:
            all_ran.set()

    def post() -> None:
        for _ in range(POSTS_PER_THREAD):
            loop.call_soon_threadsafe(bump)

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    await asyncio.sleep(0.05)  # a timer, while the threads post as fast as they can
    late = time.monotonic() - started - 0.05
    for thread in threads:
        await asyncio.to_thread(thread.join)
    await all_ran.wait()  # each callback runs exactly once, none is lost
    print("timer late by less than a second:", late < 1.0)
    print("callbacks run:", ran)


treadle.run(main())

# Expected output:
# timer late by less than a second: True
# callbacks run: 80000
