"""``python -m treadle``: a short tour of asyncio code running on treadle, and a speed check.

python -m treadle          the tour, then the speed check (the README's first command)
python -m treadle bench    the speed check alone
python -m treadle --help   what it does and its options
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import treadle
from treadle import _demo

DESCRIPTION = """\
Show treadle at work. With no command (or 'demo'): run ordinary asyncio code (tasks, timers, a
loopback TCP round trip, a Protocol server, a thread-pool call) and a Trio-style nursery on a
treadle loop, then a speed check against asyncio's own loop. 'bench' runs the speed check alone.
"""

EPILOG = """\
The speed check is a sanity check measured here and now, best of 3, not a benchmark:
benchmarks/ in the repository has those (docs/performance.md). Nothing leaves the machine:
the TCP round trip uses 127.0.0.1.
"""


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m treadle",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "command",
        nargs="?",
        choices=["demo", "bench"],
        default="demo",
        help="demo (the default): the tour, then the speed check; bench: the speed check alone",
    )
    parser.add_argument(
        "--poller",
        choices=treadle.available_pollers(),
        default=None,
        help="the OS readiness API treadle's loops use (default: the best this system has)",
    )
    parser.add_argument("--version", action="version", version=f"treadle {treadle.__version__}")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.command == "bench":
        return _demo.bench(poller=args.poller)
    return _demo.main(poller=args.poller)


if __name__ == "__main__":
    sys.exit(main())
