"""Nurseries on virtual time: children, start(), and a failure that cancels the rest."""

from __future__ import annotations

import treadle
from treadle.structured import (
    TASK_STATUS_IGNORED,
    MockClock,
    TaskStatus,
    current_time,
    open_nursery,
    sleep,
)


async def worker(name: str, seconds: float) -> None:
    await sleep(seconds)
    print(f"t={current_time():g}: {name} finished")


async def server(*, task_status: TaskStatus[str] = TASK_STATUS_IGNORED) -> None:
    await sleep(1)  # get ready...
    task_status.started("listening")  # ...start() returns now; the child lives on
    try:
        await sleep(3600)
    finally:
        print(f"t={current_time():g}: server cancelled")


async def cannot_bind(*, task_status: TaskStatus[str] = TASK_STATUS_IGNORED) -> None:
    raise OSError("address already in use")  # fails before calling started()


async def crash() -> None:
    await sleep(5)
    raise ValueError("disk full")


async def main() -> None:
    async with open_nursery() as nursery:
        nursery.start_soon(worker, "fast", 2)
        nursery.start_soon(worker, "slow", 3)
    print(f"t={current_time():g}: the nursery waited for both")

    async with open_nursery() as nursery:
        try:
            await nursery.start(cannot_bind)
        except OSError as exc:  # start() raises the child's own error, as in Trio and AnyIO
            print(f"t={current_time():g}: start() raised {exc!r}")

    try:
        async with open_nursery() as nursery:
            status = await nursery.start(server)
            print(f"t={current_time():g}: server is {status}")
            nursery.start_soon(crash)
    except ExceptionGroup as group:
        print(f"t={current_time():g}: the nursery raised", repr(group.exceptions[0]))


# MockClock(autojump_threshold=0): whenever every task waits, time jumps to the next timer.
treadle.run(main, clock=MockClock(autojump_threshold=0))

# Expected output:
# t=2: fast finished
# t=3: slow finished
# t=3: the nursery waited for both
# t=3: start() raised OSError('address already in use')
# t=4: server is listening
# t=9: server cancelled
# t=9: the nursery raised ValueError('disk full')
