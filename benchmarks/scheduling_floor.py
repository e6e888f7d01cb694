"""The floor for the task benchmarks: their coroutines driven by the least a loop can do.

``python -m benchmarks.scheduling_floor`` runs the work of sleep0_pingpong, gather_tasks and
future_roundtrip three ways and prints CPU time per operation: on asyncio's loop, on treadle's,
and on a "floor" that keeps asyncio's C Task and Future (what every asyncio loop must hand out)
but replaces the loop with a deque: ``call_soon`` appends a ``(callback, args, context)`` tuple,
and a ``while`` pops and runs them. No handles, no poll, no timers, no checks. Context for the
ratios, not a competitor: asyncio's time divided by the floor's is the most any loop that runs
asyncio's tasks can reach on that benchmark.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import time
from collections.abc import Callable, Coroutine
from typing import Any

import treadle
from benchmarks import tasks, threads

Work = Callable[[asyncio.AbstractEventLoop], Coroutine[Any, Any, Any]]
_Entry = tuple[Callable[..., object], tuple[Any, ...], contextvars.Context | None]

# name -> (the benchmark's coroutine at its registry size, operations it performs)
CASES: dict[str, tuple[Work, int]] = {
    "sleep0_pingpong": (lambda loop: tasks._switch_all(loop, 100, 1000), 100 * 1000),
    "gather_tasks": (lambda loop: tasks._gather_trivial(loop, 10_000), 10_000),
    "future_roundtrip": (lambda loop: threads._await_futures(loop, 100_000), 100_000),
}


def floor_seconds(work: Work) -> float:
    """CPU time of ``work`` driven by a deque instead of a loop."""
    queue: collections.deque[_Entry] = collections.deque()

    def call_soon(
        callback: Callable[..., object], *args: Any, context: contextvars.Context | None = None
    ) -> None:
        queue.append((callback, args, context))

    def run_queue() -> None:
        pop = queue.popleft
        while queue:
            callback, args, context = pop()
            if context is None:
                callback(*args)
            else:
                context.run(callback, *args)

    return driven_seconds(work, call_soon, run_queue)


def driven_seconds(
    work: Work, call_soon: Callable[..., object], run_queue: Callable[[], None]
) -> float:
    """CPU time of ``work`` with ``call_soon`` queueing its callbacks and ``run_queue`` running
    them until none is left. asyncio's loop object is only there for ``create_future`` and
    ``create_task``, which do not touch its scheduling."""
    loop = asyncio.new_event_loop()
    loop.call_soon = call_soon  # type: ignore[method-assign,assignment]  # the point of a floor
    asyncio.events._set_running_loop(loop)
    try:
        started = time.process_time()
        task = asyncio.Task(work(loop), loop=loop)
        run_queue()
        elapsed = time.process_time() - started
        task.result()
        return elapsed
    finally:
        asyncio.events._set_running_loop(None)
        loop.close()


def loop_seconds(new_loop: Callable[[], asyncio.AbstractEventLoop], work: Work) -> float:
    loop = new_loop()
    try:
        started = time.process_time()
        loop.run_until_complete(work(loop))
        return time.process_time() - started
    finally:
        loop.close()


def main() -> None:
    print("CPU time per operation; best of 3 runs each")
    for name, (work, ops) in CASES.items():
        floor = min(floor_seconds(work) for _ in range(3)) / ops
        base = min(loop_seconds(asyncio.new_event_loop, work) for _ in range(3)) / ops
        ours = min(loop_seconds(treadle.new_event_loop, work) for _ in range(3)) / ops
        print(
            f"{name}: floor {floor * 1e9:.0f} ns, asyncio {base * 1e9:.0f} ns, "
            f"treadle {ours * 1e9:.0f} ns; most any loop can reach {base / floor:.2f}x, "
            f"treadle {base / ours:.2f}x"
        )


if __name__ == "__main__":
    main()
