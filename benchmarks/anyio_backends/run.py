"""AnyIO on three backends: "treadle" (native) vs "asyncio" vs "trio", the same workload code.

``python benchmarks/anyio_backends/run.py [--rounds 3] [--repeat 5]``. Each (backend, workload)
measurement runs in its own process; rounds are interleaved and the backend order rotates every
round, so drift and noise fall on all alike. Prints a markdown table of median times and the
treadle backend's speed-up (other backend's time / treadle's; > 1 means treadle is faster).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))

from benchmarks.anyio_backends.workloads import WORKLOADS  # noqa: E402
from benchmarks.interleaved import print_table, run_rounds  # noqa: E402

COLUMNS = {"treadle": "treadle", "asyncio": "asyncio", "trio": "trio"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", nargs="*", default=list(WORKLOADS), choices=list(WORKLOADS))
    args = parser.parse_args()
    workloads = args.only
    samples = run_rounds(
        "benchmarks.anyio_backends.worker", list(COLUMNS), workloads, args.rounds, args.repeat
    )
    descriptions = {name: WORKLOADS[name][2] for name in workloads}
    print_table(samples, COLUMNS, descriptions, args.rounds, args.repeat)


if __name__ == "__main__":
    main()
