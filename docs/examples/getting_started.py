"""Four ways to run asyncio code on treadle; each line says which loop ran the coroutine."""

from __future__ import annotations

import asyncio

import treadle


async def which_loop() -> str:
    loop = asyncio.get_running_loop()
    return "treadle" if isinstance(loop, treadle.EventLoop) else type(loop).__name__


# 1. treadle.run(): asyncio.run() on a treadle loop, on every supported Python.
print("treadle.run():", treadle.run(which_loop()))

# 2. asyncio's own runner, told which loop to make (3.11+). On 3.12+ the one-liner
#    asyncio.run(which_loop(), loop_factory=treadle.new_event_loop) does the same.
with asyncio.Runner(loop_factory=treadle.new_event_loop) as runner:
    print("asyncio.Runner(loop_factory=...):", runner.run(which_loop()))

# 3. The event loop policy, for code that calls asyncio.run() and cannot be changed.
#    treadle.install() does this too (and warns on 3.12+, as asyncio is retiring policies).
asyncio.set_event_loop_policy(treadle.EventLoopPolicy())
print("policy + asyncio.run():", asyncio.run(which_loop()))
asyncio.set_event_loop_policy(None)  # back to asyncio's default policy

# 4. A loop of your own, with a chosen poller.
loop = treadle.new_event_loop(poller="select")
try:
    print("new_event_loop(poller='select'):", loop.run_until_complete(which_loop()))
finally:
    loop.close()

# Expected output:
# treadle.run(): treadle
# asyncio.Runner(loop_factory=...): treadle
# policy + asyncio.run(): treadle
# new_event_loop(poller='select'): treadle
