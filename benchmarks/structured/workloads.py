"""The four structured-concurrency workloads, written once per framework.

Each workload is ``async def (lib, n) -> float``: it does its work ``n`` times and returns the
seconds spent in the timed part. ``lib`` is a small adapter exposing the same few names for
treadle.structured, AnyIO (asyncio backend, asyncio's own loop) and Trio.
"""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any


def adapter(framework: str) -> Any:
    if framework == "treadle":
        import treadle.structured as ts

        return SimpleNamespace(
            CancelScope=ts.CancelScope,
            open_nursery=ts.open_nursery,
            sleep_forever=ts.sleep_forever,
            move_on_after=ts.move_on_after,
            wait_all_tasks_blocked=ts.wait_all_tasks_blocked,
            run=lambda fn, *args: ts.run(fn, *args),
        )
    if framework == "anyio":
        import anyio

        return SimpleNamespace(
            CancelScope=anyio.CancelScope,
            open_nursery=anyio.create_task_group,
            sleep_forever=anyio.sleep_forever,
            move_on_after=anyio.move_on_after,
            wait_all_tasks_blocked=anyio.wait_all_tasks_blocked,
            run=lambda fn, *args: anyio.run(fn, *args, backend="asyncio"),
        )
    if framework == "trio":
        import trio
        import trio.testing

        return SimpleNamespace(
            CancelScope=trio.CancelScope,
            open_nursery=trio.open_nursery,
            sleep_forever=trio.sleep_forever,
            move_on_after=trio.move_on_after,
            wait_all_tasks_blocked=trio.testing.wait_all_tasks_blocked,
            run=lambda fn, *args: trio.run(fn, *args),
        )
    raise ValueError(f"unknown framework {framework!r}")


async def _noop() -> None:
    pass


async def cancel_scopes(lib: Any, n: int) -> float:
    """Enter and exit ``n`` cancel scopes, one after the other, in one task."""
    scope_type = lib.CancelScope
    started = time.perf_counter()
    for _ in range(n):
        with scope_type():
            pass
    return time.perf_counter() - started


async def spawn(lib: Any, n: int) -> float:
    """A nursery starts ``n`` trivial tasks and waits for them."""
    started = time.perf_counter()
    async with lib.open_nursery() as nursery:
        for _ in range(n):
            nursery.start_soon(_noop)
    return time.perf_counter() - started


async def cancel_sleepers(lib: Any, n: int) -> float:
    """Cancel a nursery of ``n`` tasks parked in sleep_forever; time from cancel() to exit."""
    async with lib.open_nursery() as nursery:
        for _ in range(n):
            nursery.start_soon(lib.sleep_forever)
        await lib.wait_all_tasks_blocked()
        started = time.perf_counter()
        nursery.cancel_scope.cancel()
    return time.perf_counter() - started


async def _with_deadline(lib: Any) -> None:
    with lib.move_on_after(0.001):
        await lib.sleep_forever()


async def deadlines(lib: Any, n: int) -> float:
    """``n`` tasks, each parked in a scope whose 1 ms deadline fires and cancels it."""
    started = time.perf_counter()
    async with lib.open_nursery() as nursery:
        for _ in range(n):
            nursery.start_soon(_with_deadline, lib)
    return time.perf_counter() - started


WORKLOADS = {
    "cancel_scopes": (cancel_scopes, 100_000, "enter/exit 100k cancel scopes"),
    "spawn": (spawn, 10_000, "a nursery starting 10k trivial tasks"),
    "cancel_sleepers": (cancel_sleepers, 1_000, "cancelling a nursery of 1k sleeping tasks"),
    "deadlines": (deadlines, 10_000, "10k tasks, each with a deadline that fires"),
}
