"""One process, one AnyIO backend, one workload: prints the median seconds of a few runs as JSON.

``python -m benchmarks.anyio_backends.worker BACKEND WORKLOAD [--repeat N]``
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
from pathlib import Path

import anyio

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import treadle  # noqa: F401  # makes backend="treadle" known to AnyIO
from benchmarks.anyio_backends.workloads import WORKLOADS


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("backend", choices=("treadle", "asyncio", "trio"))
    parser.add_argument("workload", choices=sorted(WORKLOADS))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    workload, size, _ = WORKLOADS[args.workload]
    anyio.run(workload, max(1, size // 10), backend=args.backend)  # warm-up
    times = []
    for _ in range(args.repeat):
        gc.collect()
        times.append(anyio.run(workload, size, backend=args.backend))
    print(json.dumps({"seconds": statistics.median(times)}))


if __name__ == "__main__":
    main()
