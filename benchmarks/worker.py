"""One measurement in a fresh process: ``python -m benchmarks.worker LOOP BENCHMARK [--scale X]``.

Prints one JSON line: the Measurement's fields plus ``throughput``. With ``--probe`` it only
checks that LOOP can be created, run and closed, and prints ``{"ok": true}``.
A failure exits non-zero with the traceback on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
from dataclasses import asdict

from benchmarks import loops
from benchmarks.registry import BY_NAME, WARMUP_FRACTION


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    new_loop = loops.resolve(args.loop)
    if args.probe:
        with loops.fresh_loop(new_loop) as loop:
            loop.run_until_complete(asyncio.sleep(0))
        print(json.dumps({"ok": True, "version": loops.version(args.loop)}))
        return 0
    bench = BY_NAME[args.benchmark]
    if bench.warmup:
        # Imports, first-call costs and the interpreter's specialisation happen here, untimed.
        bench.measure(new_loop, args.scale * WARMUP_FRACTION)
    gc.collect()
    measurement = bench.measure(new_loop, args.scale)
    rates = {"throughput": measurement.throughput, "cpu_throughput": measurement.cpu_throughput}
    print(json.dumps({**asdict(measurement), **rates}))
    return 0


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("loop")
    parser.add_argument("benchmark", nargs="?", choices=sorted(BY_NAME))
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--probe", action="store_true")
    args = parser.parse_args(argv)
    if not args.probe and args.benchmark is None:
        parser.error("a benchmark name is required unless --probe is given")
    return args


if __name__ == "__main__":
    sys.exit(main())
