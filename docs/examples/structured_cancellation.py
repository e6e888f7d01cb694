"""Cancel scopes: deadlines, level-triggered cancellation in plain asyncio code, shields."""

from __future__ import annotations

import asyncio

import treadle
from treadle.structured import CancelScope, MockClock, current_time, fail_after, move_on_after


async def main() -> None:
    # A deadline cancels the body; the scope catches the CancelledError it caused.
    with move_on_after(5) as scope:
        await asyncio.sleep(60)  # any asyncio await is a checkpoint
    print(f"t={current_time():g}: moved on, cancelled_caught={scope.cancelled_caught}")

    # Level-triggered: every checkpoint inside a cancelled scope raises, not just the first.
    # The CancelledError says who cancelled the scope, and why.
    with CancelScope() as scope:
        scope.cancel("enough")
        for attempt in range(3):
            try:
                await asyncio.Queue().get()
            except asyncio.CancelledError as exc:
                print(f"attempt {attempt}: {exc}")

    # A shield keeps outer cancellation out, for cleanup that must finish.
    with move_on_after(1):
        try:
            await asyncio.sleep(60)
        finally:
            with CancelScope(shield=True):
                await asyncio.sleep(2)
                print(f"t={current_time():g}: shielded cleanup finished")

    # fail_after raises the builtin TimeoutError, like asyncio.timeout().
    try:
        with fail_after(1):
            await asyncio.Event().wait()
    except TimeoutError:
        print(f"t={current_time():g}: TimeoutError")

    task = asyncio.current_task()
    assert task is not None
    print("task.cancelling() after all that:", task.cancelling())


treadle.run(main, clock=MockClock(autojump_threshold=0))

# Expected output:
# t=5: moved on, cancelled_caught=True
# attempt 0: cancelled by task 'Task-1'; reason: enough
# attempt 1: cancelled by task 'Task-1'; reason: enough
# attempt 2: cancelled by task 'Task-1'; reason: enough
# t=8: shielded cleanup finished
# t=9: TimeoutError
# task.cancelling() after all that: 0
