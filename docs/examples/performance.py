"""Time one workload on asyncio's loop and on treadle's, the way benchmarks/run.py does.

The workload is the runner's call_soon chain in miniature: each callback schedules the next.
Every measurement gets a fresh loop and a warm-up first; the score is the median of a few
rounds, and loops are compared by the ratio of their medians. Timings differ from machine to
machine and run to run, so this program prints the work done, not the seconds: set
SHOW_TIMINGS=1 to see those too.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from collections.abc import Callable

import treadle

CALLBACKS = 20_000
ROUNDS = 3


def chain(new_loop: Callable[[], asyncio.AbstractEventLoop], callbacks: int) -> tuple[int, float]:
    """Run a chain of ``callbacks`` callbacks on a fresh loop; return (callbacks run, seconds)."""
    loop = new_loop()
    ran = 0

    def step() -> None:
        nonlocal ran
        ran += 1
        if ran < callbacks:
            loop.call_soon(step)
        else:
            loop.stop()

    try:
        start = time.perf_counter()
        loop.call_soon(step)
        loop.run_forever()
        return ran, time.perf_counter() - start
    finally:
        loop.close()


loops: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.new_event_loop,
    "treadle": treadle.new_event_loop,
}
medians: dict[str, float] = {}
for name, new_loop in loops.items():
    chain(new_loop, CALLBACKS // 10)  # warm-up, untimed
    results = [chain(new_loop, CALLBACKS) for _ in range(ROUNDS)]
    print(f"{name}: {ROUNDS} rounds, {sum(ran for ran, _ in results)} callbacks run")
    medians[name] = statistics.median(CALLBACKS / seconds for _, seconds in results)

ratio = medians["treadle"] / medians["asyncio"]
print("treadle/asyncio speed ratio computed:", ratio > 0)
if os.environ.get("SHOW_TIMINGS"):
    for name, rate in medians.items():
        print(f"{name}: {rate:,.0f} callbacks/s (median)", file=sys.stderr)
    print(f"treadle/asyncio: {ratio:.2f}x (> 1 means treadle is faster)", file=sys.stderr)

# Expected output:
# asyncio: 3 rounds, 60000 callbacks run
# treadle: 3 rounds, 60000 callbacks run
# treadle/asyncio speed ratio computed: True
