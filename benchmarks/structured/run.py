"""treadle.structured vs AnyIO (asyncio backend, asyncio's loop) vs Trio.

``python benchmarks/structured/run.py [--rounds 3]``. Each (framework, workload) measurement runs
in its own process; rounds are interleaved and the framework order rotates every round, so drift
and noise fall on all alike. Prints a markdown table of median times and of treadle's speed-up
(other framework's time / treadle's time; > 1 means treadle is faster).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))

from benchmarks.structured.workloads import WORKLOADS  # noqa: E402

FRAMEWORKS = ("treadle", "anyio", "trio")


def measure(framework: str, workload: str, repeat: int) -> float:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.structured.worker",
            framework,
            workload,
            "--repeat",
            str(repeat),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
        timeout=600,
    )
    return float(json.loads(done.stdout.splitlines()[-1])["seconds"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    samples: dict[tuple[str, str], list[float]] = {}
    for round_number in range(args.rounds):
        shift = round_number % len(FRAMEWORKS)
        order = FRAMEWORKS[shift:] + FRAMEWORKS[:shift]
        for workload in WORKLOADS:
            for framework in order:
                seconds = measure(framework, workload, args.repeat)
                samples.setdefault((framework, workload), []).append(seconds)
                print(
                    f"round {round_number + 1}: {workload:16} {framework:8} "
                    f"{seconds * 1e3:8.2f} ms",
                    file=sys.stderr,
                )
    print(f"Python {sys.version.split()[0]}, {args.rounds} rounds x {args.repeat} runs, medians\n")
    print("| workload | treadle | AnyIO (asyncio) | Trio | vs AnyIO | vs Trio |")
    print("|---|---:|---:|---:|---:|---:|")
    for workload, (_, _, description) in WORKLOADS.items():
        median = {fw: statistics.median(samples[(fw, workload)]) for fw in FRAMEWORKS}
        print(
            f"| {description} | {median['treadle'] * 1e3:.1f} ms | {median['anyio'] * 1e3:.1f} ms"
            f" | {median['trio'] * 1e3:.1f} ms | {median['anyio'] / median['treadle']:.2f}x"
            f" | {median['trio'] / median['treadle']:.2f}x |"
        )


if __name__ == "__main__":
    main()
