"""treadle.structured vs AnyIO (asyncio backend, asyncio's loop) vs Trio.

``python benchmarks/structured/run.py [--rounds 3]``. Each (framework, workload) measurement runs
in its own process; rounds are interleaved and the framework order rotates every round, so drift
and noise fall on all alike. Prints a markdown table of median times and of treadle's speed-up
(other framework's time / treadle's time; > 1 means treadle is faster).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))

from benchmarks.interleaved import print_table, run_rounds  # noqa: E402
from benchmarks.structured.workloads import WORKLOADS  # noqa: E402

COLUMNS = {"treadle": "treadle", "anyio": "AnyIO (asyncio)", "trio": "Trio"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    workloads = list(WORKLOADS)
    samples = run_rounds(
        "benchmarks.structured.worker", list(COLUMNS), workloads, args.rounds, args.repeat
    )
    descriptions = {name: WORKLOADS[name][2] for name in workloads}
    print_table(samples, COLUMNS, descriptions, args.rounds, args.repeat)


if __name__ == "__main__":
    main()
