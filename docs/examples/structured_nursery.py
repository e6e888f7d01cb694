"""Nurseries on virtual time: children, start(), and a failure that cancels the rest."""

from __future__ import annotations

from treadle.structured import MockClock, TaskStatus, current_time, open_nursery, run, sleep


async def worker(name: str, seconds: float) -> None:
    await sleep(seconds)
    print(f"t={current_time():g}: {name} finished")


async def server(*, task_status: TaskStatus) -> None:
    await sleep(1)  # get ready...
    task_status.started("listening")  # ...start() returns now; the child lives on
    try:
        await sleep(3600)
    finally:
        print(f"t={current_time():g}: server cancelled")


async def crash() -> None:
    await sleep(5)
    raise ValueError("disk full")


async def main() -> None:
    async with open_nursery() as nursery:
        nursery.start_soon(worker, "fast", 2)
        nursery.start_soon(worker, "slow", 3)
    print(f"t={current_time():g}: the nursery waited for both")

    try:
        async with open_nursery() as nursery:
            status = await nursery.start(server)
            print(f"t={current_time():g}: server is {status}")
            nursery.start_soon(crash)
    except ExceptionGroup as group:
        print(f"t={current_time():g}: the nursery raised", repr(group.exceptions[0]))


# MockClock(autojump_threshold=0): whenever every task waits, time jumps to the next timer.
run(main, clock=MockClock(autojump_threshold=0))

# Expected output:
# t=2: fast finished
# t=3: slow finished
# t=3: the nursery waited for both
# t=4: server is listening
# t=9: server cancelled
# t=9: the nursery raised ValueError('disk full')
