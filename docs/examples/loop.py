"""A treadle loop's life: create, run, stop, handle an error, close."""

from __future__ import annotations

import asyncio
from typing import Any

import treadle

loop = treadle.new_event_loop()
print("new loop: running", loop.is_running(), "closed", loop.is_closed())

# run_forever() runs callbacks until stop(); call_soon callbacks run in the order they were added.
loop.call_soon(print, "call_soon: first")
loop.call_soon(print, "call_soon: second")
loop.call_later(0.01, loop.stop)
loop.run_forever()


# run_until_complete() runs the loop until the awaitable is done and returns its result.
async def answer() -> int:
    await asyncio.sleep(0.01)
    return 42


print("run_until_complete:", loop.run_until_complete(answer()))


# An exception in a callback does not stop the loop: it goes to the exception handler.
def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    error = context["exception"]
    print("exception handler:", type(error).__name__, error)


def broken() -> None:
    raise ValueError("boom")


loop.set_exception_handler(handler)
loop.call_soon(broken)
loop.call_soon(print, "the next callback still runs")
loop.call_soon(loop.stop)
loop.run_forever()

# Debug mode: on with PYTHONASYNCIODEBUG=1, python -X dev, or set_debug(True).
loop.set_debug(True)
print("debug:", loop.get_debug())
loop.set_debug(False)

loop.close()
print("after close(): running", loop.is_running(), "closed", loop.is_closed())
try:
    loop.call_soon(print, "never")
except RuntimeError as error:
    print("call_soon on a closed loop:", error)

# Expected output:
# new loop: running False closed False
# call_soon: first
# call_soon: second
# run_until_complete: 42
# exception handler: ValueError boom
# the next callback still runs
# debug: True
# after close(): running False closed True
# call_soon on a closed loop: Event loop is closed
