"""The floor of issue 12's compiled targets: asyncio's tasks driven by the least a compiled loop
can do, next to uvloop.

``python -m benchmarks.native_floor`` builds ``benchmarks/native_floor_core.py`` with mypyc in a
temporary folder (it needs mypy, from the ``lint`` extra, setuptools and a C compiler), then runs
the work of sleep0_pingpong, gather_tasks, future_roundtrip and call_soon_batch on:

- ``python floor``: scheduling_floor.py's deque of tuples, interpreted;
- ``native floor``: native handles and a native ``call_soon`` and run loop, compiled by mypyc,
  with no poll, no timers and no checks; its handles are not ``asyncio.Handle`` instances;
- each loop named by ``--loops`` (default ``asyncio,uvloop,treadle``; the names of run.py).

It prints CPU time per operation, best of ``--repeat`` runs, the contestants interleaved in each
repetition. If uvloop beats the native floor on a row, no loop compiled with mypyc that hands
out asyncio's tasks can reach uvloop on that row: the floor leaves out everything a real loop
must do.
"""

from __future__ import annotations

import argparse
import collections
import contextvars
import importlib.util
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from benchmarks import loops, scheduling_floor

SOURCE = Path(__file__).with_name("native_floor_core.py")
BATCH = 100_000  # call_soon_batch: callbacks queued, then run


def build_native_floor(folder: Path) -> ModuleType:
    """Compile native_floor_core.py with mypyc in ``folder`` and import the result."""
    source = folder / SOURCE.name
    shutil.copy(SOURCE, source)
    done = subprocess.run(
        [sys.executable, "-m", "mypyc", source.name],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    built = sorted(folder.glob("native_floor_core.*.so")) + sorted(
        folder.glob("native_floor_core.*.pyd")
    )
    if done.returncode or not built:
        raise RuntimeError(f"mypyc could not build the native floor:\n{done.stdout}{done.stderr}")
    spec = importlib.util.spec_from_file_location("native_floor_core", built[0])
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def native_floor_seconds(native: ModuleType, work: scheduling_floor.Work) -> float:
    """CPU time of ``work`` driven by the native queue (scheduling_floor.driven_seconds)."""
    queue = native.NativeQueue()
    return scheduling_floor.driven_seconds(work, queue.call_soon, queue.run)


def _bump(box: list[int]) -> None:
    box[0] += 1


def batch_seconds(call_soon: Callable[..., object], run_queue: Callable[[], object]) -> float:
    """CPU time to queue ``BATCH`` callbacks with ``call_soon`` and run them with ``run_queue``."""
    box = [0]
    started = time.process_time()
    for _ in range(BATCH):
        call_soon(_bump, box)
    run_queue()
    elapsed = time.process_time() - started
    assert box[0] == BATCH
    return elapsed


def batch_on_native_floor(native: ModuleType) -> float:
    queue = native.NativeQueue()
    return batch_seconds(queue.call_soon, queue.run)


def batch_on_python_floor() -> float:
    queue: collections.deque[tuple[Callable[..., object], tuple[Any, ...], Any]]
    queue = collections.deque()

    def call_soon(callback: Callable[..., object], *args: Any, context: Any = None) -> None:
        queue.append((callback, args, contextvars.copy_context() if context is None else context))

    def run_queue() -> None:
        pop = queue.popleft
        while queue:
            callback, args, context = pop()
            context.run(callback, *args)

    return batch_seconds(call_soon, run_queue)


def batch_on_loop(new_loop: loops.LoopFactory) -> float:
    with loops.fresh_loop(new_loop) as loop:

        def run_queue() -> None:
            loop.call_soon(loop.stop)  # queued last: it runs after every callback
            loop.run_forever()

        return batch_seconds(loop.call_soon, run_queue)


def label(name: str) -> str:
    """A loop's column title; plain ``treadle`` says which variant is installed."""
    if name != "treadle":
        return name
    import treadle  # only now: run.py's treadle-pure must be able to come first

    return "treadle compiled" if treadle.compiled else "treadle pure"


def contestants(native: ModuleType, names: list[str], case: str) -> dict[str, Callable[[], float]]:
    """One zero-argument timer per contestant for ``case``."""
    factories = {label(name): loops.resolve(name) for name in names}
    if case == "call_soon_batch":
        timers: dict[str, Callable[[], float]] = {
            "python floor": batch_on_python_floor,
            "native floor": lambda: batch_on_native_floor(native),
        }
        for name, factory in factories.items():
            timers[name] = lambda factory=factory: batch_on_loop(factory)  # type: ignore[misc]
        return timers
    work = scheduling_floor.CASES[case][0]
    timers = {
        "python floor": lambda: scheduling_floor.floor_seconds(work),
        "native floor": lambda: native_floor_seconds(native, work),
    }
    for name, factory in factories.items():
        timers[name] = lambda factory=factory: scheduling_floor.loop_seconds(factory, work)  # type: ignore[misc]
    return timers


def measure(native: ModuleType, names: list[str], repeat: int) -> dict[str, dict[str, float]]:
    """Nanoseconds of CPU per operation: case -> contestant -> best of ``repeat``."""
    results: dict[str, dict[str, float]] = {}
    cases = [*scheduling_floor.CASES, "call_soon_batch"]
    for case in cases:
        ops = BATCH if case == "call_soon_batch" else scheduling_floor.CASES[case][1]
        timers = contestants(native, names, case)
        best = {label: float("inf") for label in timers}
        for _ in range(repeat):
            for label, timer in timers.items():
                best[label] = min(best[label], timer())
        results[case] = {label: seconds / ops * 1e9 for label, seconds in best.items()}
    return results


def report(results: dict[str, dict[str, float]]) -> str:
    labels = list(next(iter(results.values())))
    lines = [
        "CPU ns per operation, best of the repetitions (lower is faster); last column:"
        " uvloop's time over the native floor's (< 1.00x: uvloop is faster than the floor)",
        "",
        "| case | " + " | ".join(labels) + " | native floor vs uvloop |",
        "| --- |" + " ---: |" * (len(labels) + 1),
    ]
    for case, row in results.items():
        cells = " | ".join(f"{row[label]:.0f}" for label in labels)
        versus = f"{row['uvloop'] / row['native floor']:.2f}x" if "uvloop" in row else "n/a"
        lines.append(f"| {case} | {cells} | {versus} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--loops", default="asyncio,uvloop,treadle")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="native-floor-") as folder:
        native = build_native_floor(Path(folder))
        results = measure(native, args.loops.split(","), args.repeat)
    print(report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
