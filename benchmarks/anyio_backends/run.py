"""AnyIO on three backends: "treadle" (native) vs "asyncio" vs "trio", the same workload code.

``python benchmarks/anyio_backends/run.py [--rounds 3] [--repeat 5]``. Each (backend, workload)
measurement runs in its own process; rounds are interleaved and the backend order rotates every
round, so drift and noise fall on all alike. Prints a markdown table of median times and the
treadle backend's speed-up (other backend's time / treadle's; > 1 means treadle is faster).
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

from benchmarks.anyio_backends.workloads import WORKLOADS  # noqa: E402

BACKENDS = ("treadle", "asyncio", "trio")


def measure(backend: str, workload: str, repeat: int) -> float:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.anyio_backends.worker",
            backend,
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
    parser.add_argument("--only", nargs="*", default=list(WORKLOADS), choices=list(WORKLOADS))
    args = parser.parse_args()
    samples: dict[tuple[str, str], list[float]] = {}
    for round_number in range(args.rounds):
        shift = round_number % len(BACKENDS)
        order = BACKENDS[shift:] + BACKENDS[:shift]
        for workload in args.only:
            for backend in order:
                seconds = measure(backend, workload, args.repeat)
                samples.setdefault((backend, workload), []).append(seconds)
                print(
                    f"round {round_number + 1}: {workload:17} {backend:8} {seconds * 1e3:8.2f} ms",
                    file=sys.stderr,
                )
    print(f"Python {sys.version.split()[0]}, {args.rounds} rounds x {args.repeat} runs, medians\n")
    print("| workload | treadle | asyncio | trio | vs asyncio | vs trio |")
    print("|---|---:|---:|---:|---:|---:|")
    for workload in args.only:
        description = WORKLOADS[workload][2]
        median = {b: statistics.median(samples[(b, workload)]) for b in BACKENDS}
        print(
            f"| {description} | {median['treadle'] * 1e3:.1f} ms"
            f" | {median['asyncio'] * 1e3:.1f} ms | {median['trio'] * 1e3:.1f} ms"
            f" | {median['asyncio'] / median['treadle']:.2f}x"
            f" | {median['trio'] / median['treadle']:.2f}x |"
        )


if __name__ == "__main__":
    main()
