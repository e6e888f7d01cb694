"""One process, one framework, one workload: prints the median seconds of a few runs as JSON.

``python -m benchmarks.structured.worker FRAMEWORK WORKLOAD [--repeat N]``
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.structured.workloads import WORKLOADS, adapter


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("framework")
    parser.add_argument("workload")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    lib = adapter(args.framework)
    workload, size, _ = WORKLOADS[args.workload]
    lib.run(workload, lib, max(1, size // 10))  # warm-up: imports, first calls, specialisation
    times = []
    for _ in range(args.repeat):
        gc.collect()
        times.append(lib.run(workload, lib, size))
    print(json.dumps({"seconds": statistics.median(times)}))


if __name__ == "__main__":
    main()
