"""Workloads for the scheduler: the ready queue (call_soon) and the timer heap (call_later).

Every function takes a loop factory and its size parameters, builds a fresh loop, and returns
one Measurement. Callbacks run straight from ``run_forever`` where possible, so no Task or
Future sits between the benchmark and the queue being measured.
"""

from __future__ import annotations

import asyncio
import random
import resource
import sys
import threading
import tracemalloc
from typing import TYPE_CHECKING

from benchmarks.loops import LoopFactory, fresh_loop
from benchmarks.measurement import Measurement, Stopwatch

if TYPE_CHECKING:
    from collections.abc import Callable


def call_soon_chain(new_loop: LoopFactory, *, callbacks: int) -> Measurement:
    """Each callback schedules the next: one callback per loop iteration, ``callbacks`` times."""
    with fresh_loop(new_loop) as loop:
        remaining = callbacks

        def step() -> None:
            nonlocal remaining
            remaining -= 1
            if remaining:
                loop.call_soon(step)
            else:
                loop.stop()

        with Stopwatch() as watch:
            loop.call_soon(step)
            loop.run_forever()
    return watch.measurement(callbacks)


def call_soon_batch(new_loop: LoopFactory, *, callbacks: int, batches: int) -> Measurement:
    """Schedule ``callbacks`` callbacks up front, then run them; ``batches`` times on one loop.

    The timed span includes the call_soon calls: the cost of queueing matters as much as the
    cost of running.
    """
    counter = [0]

    def bump(box: list[int]) -> None:
        box[0] += 1

    with fresh_loop(new_loop) as loop, Stopwatch() as watch:
        for _ in range(batches):
            for _ in range(callbacks):
                loop.call_soon(bump, counter)
            # Queued last, so it runs after every bump: callbacks run in FIFO order.
            loop.call_soon(loop.stop)
            loop.run_forever()
    if counter[0] != callbacks * batches:
        raise RuntimeError(f"ran {counter[0]} callbacks, expected {callbacks * batches}")
    return watch.measurement(callbacks * batches)


def timer_churn(new_loop: LoopFactory, *, timers: int, wave: int, background: int) -> Measurement:
    """Create timers at scattered future times and cancel them, ``wave`` at a time.

    ``background`` long timers stay armed throughout, so the heap is never trivially empty.
    Between waves the loop runs one iteration, which is where a loop may drop cancelled
    timers. A second, untimed pass under tracemalloc reports how far the traced memory grew
    from the first wave to the last: a loop that kept cancelled timers would grow by about
    ``timers`` handles. That figure is information, not a score.
    """
    waves = max(1, timers // wave)
    with fresh_loop(new_loop) as loop, Stopwatch() as watch:
        loop.run_until_complete(_churn(loop, waves, wave, background, _ignore_wave))
    info = _churn_memory(new_loop, waves, wave, background)
    info["maxrss_mib"] = _max_rss_mib()
    return watch.measurement(waves * wave, info)


def _noop() -> None:
    pass


def _ignore_wave(index: int) -> None:
    pass


async def _churn(
    loop: asyncio.AbstractEventLoop,
    waves: int,
    wave: int,
    background: int,
    after_wave: Callable[[int], None],
) -> None:
    # Fixed seed: every loop sees the same delays and the same cancellation order.
    rng = random.Random(3)
    delays = [rng.uniform(1.0, 3600.0) for _ in range(wave)]
    order = list(range(wave))
    rng.shuffle(order)
    armed = [loop.call_later(rng.uniform(3600.0, 7200.0), _noop) for _ in range(background)]
    for index in range(waves):
        handles = [loop.call_later(delay, _noop) for delay in delays]
        for position in order:
            handles[position].cancel()
        await asyncio.sleep(0)
        after_wave(index)
    for handle in armed:
        handle.cancel()
    await asyncio.sleep(0)


def _churn_memory(
    new_loop: LoopFactory, waves: int, wave: int, background: int
) -> dict[str, float]:
    samples: dict[int, int] = {}

    def sample(index: int) -> None:
        if index in (0, waves - 1):
            samples[index] = tracemalloc.get_traced_memory()[0]

    tracemalloc.start()
    try:
        with fresh_loop(new_loop) as loop:
            baseline = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            loop.run_until_complete(_churn(loop, waves, wave, background, sample))
            peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return {
        "heap_growth_kib": (samples[waves - 1] - samples[0]) / 1024,
        "traced_peak_kib": (peak - baseline) / 1024,
    }


def _max_rss_mib() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def call_soon_threadsafe_threads(
    new_loop: LoopFactory, *, callbacks: int, threads: int
) -> Measurement:
    """``threads`` threads post ``callbacks`` callbacks in all to a running loop, as fast as they
    can; the timed span ends when the loop has run the last one. One thread measures the cost of
    a post; several measure whether the loop keeps up (a loop that falls behind queues without
    bound, which the ``max_backlog`` figure shows)."""
    per_thread = max(1, callbacks // threads)
    total = per_thread * threads
    ran = [0]
    backlog = [0]
    posted = [0] * threads

    def bump() -> None:
        ran[0] += 1
        if ran[0] == total:
            loop.stop()

    def post(index: int) -> None:
        call = loop.call_soon_threadsafe
        for count in range(per_thread):
            call(bump)
            posted[index] = count

    def sample() -> None:
        backlog[0] = max(backlog[0], sum(posted) - ran[0])
        loop.call_later(0.001, sample)

    def start_workers() -> None:
        # From inside the running loop: the figure is about a loop that runs, not a queue
        # filled before it starts.
        for worker in workers:
            worker.start()

    with fresh_loop(new_loop) as loop:
        workers = [threading.Thread(target=post, args=(i,)) for i in range(threads)]
        loop.call_soon(sample)
        loop.call_soon(start_workers)
        with Stopwatch() as watch:
            loop.run_forever()
        for worker in workers:
            worker.join()
    return watch.measurement(total, {"max_backlog": float(backlog[0])})
