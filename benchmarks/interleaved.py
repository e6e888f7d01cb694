"""Interleaved rounds of one-process-per-measurement runs, shared by the framework comparisons.

``benchmarks/structured/run.py`` (treadle.structured vs AnyIO vs Trio) and
``benchmarks/anyio_backends/run.py`` (AnyIO on three backends) differ only in their worker module
and column names. Each (contender, workload) measurement runs in its own process; rounds are
interleaved and the contender order rotates every round, so drift and noise fall on all alike.
The table gives median times and treadle's speed-up (other's time / treadle's; > 1 means treadle
is faster). treadle is always the first contender.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

Samples = dict[tuple[str, str], list[float]]


def measure(worker: str, contender: str, workload: str, repeat: int) -> float:
    """Seconds for one measurement, from ``python -m <worker> <contender> <workload>``."""
    done = subprocess.run(
        [sys.executable, "-m", worker, contender, workload, "--repeat", str(repeat)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
        timeout=600,
    )
    return float(json.loads(done.stdout.splitlines()[-1])["seconds"])


def run_rounds(
    worker: str, contenders: Sequence[str], workloads: Sequence[str], rounds: int, repeat: int
) -> Samples:
    """Every (contender, workload) once per round, the contender order rotated each round."""
    samples: Samples = {}
    width = max(len(name) for name in workloads) + 1
    for round_number in range(rounds):
        shift = round_number % len(contenders)
        order = [*contenders[shift:], *contenders[:shift]]
        for workload in workloads:
            for contender in order:
                seconds = measure(worker, contender, workload, repeat)
                samples.setdefault((contender, workload), []).append(seconds)
                print(
                    f"round {round_number + 1}: {workload:{width}} {contender:8} "
                    f"{seconds * 1e3:8.2f} ms",
                    file=sys.stderr,
                )
    return samples


def print_table(
    samples: Samples,
    columns: Mapping[str, str],
    descriptions: Mapping[str, str],
    rounds: int,
    repeat: int,
) -> None:
    """Medians per workload; ``columns`` maps each contender to its heading, treadle first."""
    treadle, *others = columns
    headings = list(columns.values())
    print(f"Python {sys.version.split()[0]}, {rounds} rounds x {repeat} runs, medians\n")
    print(
        "| workload | "
        + " | ".join(headings)
        + " | "
        + " | ".join(f"vs {columns[other].split(' (')[0]}" for other in others)
        + " |"
    )
    print("|---|" + "---:|" * (len(headings) + len(others)))
    for workload, description in descriptions.items():
        median = {name: statistics.median(samples[(name, workload)]) for name in columns}
        times = " | ".join(f"{median[name] * 1e3:.1f} ms" for name in columns)
        ratios = " | ".join(f"{median[other] / median[treadle]:.2f}x" for other in others)
        print(f"| {description} | {times} | {ratios} |")
