"""What one readiness event costs a loop, with no I/O in the callback: the per-iteration floor.

``python -m benchmarks.fd_dispatch [--fds N] [--loops asyncio,uvloop,...]`` watches N socketpairs
that are always readable (a byte sits unread in each) with ``loop.add_reader`` and a callback
that only counts, and prints CPU time per event, best of 5 runs of 300k events, each loop in a
fresh process (``treadle-pure`` must be chosen before treadle is imported). With one fd every
event is a whole loop iteration (poll, dispatch, one callback); with five, the poll is shared.
For context it also times ``select.epoll.poll`` alone in a Python loop: what every Python-level
loop pays per iteration before doing anything. docs/performance.md ("Compiled transports,
session 4") has the figures.
"""

from __future__ import annotations

import argparse
import select
import socket
import subprocess
import sys
import time

from benchmarks import loops

EVENTS = 300_000
RUNS = 5
DEFAULT_LOOPS = "asyncio,uvloop,treadle-pure,treadle-compiled"


def per_event_ns(name: str, fds: int, events: int = EVENTS) -> float:
    """Best CPU time per event (ns) of ``name``'s loop over ``fds`` always-readable sockets."""
    loop = loops.resolve(name)()
    pairs = [socket.socketpair() for _ in range(fds)]
    count = 0

    def counted() -> None:
        nonlocal count
        count += 1
        if count == events:  # once: uvloop would carry a second stop() into the next run
            loop.stop()

    try:
        for writer, reader in pairs:
            writer.send(b"x")
            loop.add_reader(reader.fileno(), counted)
        best = float("inf")
        for _ in range(RUNS):
            count = 0
            started = time.process_time_ns()
            loop.run_forever()
            best = min(best, (time.process_time_ns() - started) / count)
        return best
    finally:
        for writer, reader in pairs:
            loop.remove_reader(reader.fileno())
            writer.close()
            reader.close()
        loop.close()


def bare_epoll_ns(events: int = EVENTS) -> float:
    """Best CPU time (ns) of one ``epoll.poll(-1, 1)`` on a ready fd, from a Python loop."""
    writer, reader = socket.socketpair()
    poller = select.epoll()
    try:
        writer.send(b"x")
        poller.register(reader.fileno(), select.EPOLLIN)
        best = float("inf")
        for _ in range(RUNS):
            started = time.process_time_ns()
            for _ in range(events):
                poller.poll(-1, 1)
            best = min(best, (time.process_time_ns() - started) / events)
        return best
    finally:
        poller.close()
        writer.close()
        reader.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fds", type=int, default=1)
    parser.add_argument("--loops", default=DEFAULT_LOOPS)
    parser.add_argument("--events", type=int, default=EVENTS, help="per run (default 300k)")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # a worker: measure this loop only
    args = parser.parse_args(argv)
    if args.one:
        print(f"{per_event_ns(args.one, args.fds, args.events):.0f}")
        return 0
    for name in args.loops.split(","):
        worker = [sys.executable, "-m", "benchmarks.fd_dispatch", "--fds", str(args.fds)]
        worker += ["--events", str(args.events)]
        done = subprocess.run([*worker, "--one", name], capture_output=True, text=True)
        figure = done.stdout.strip() if done.returncode == 0 else "unavailable"
        print(f"{name:18s} {args.fds} fd(s): {figure} ns per event")
    if hasattr(select, "epoll"):
        print(f"{'epoll.poll alone':18s} {bare_epoll_ns(args.events):.0f} ns per call")
    return 0


if __name__ == "__main__":
    sys.exit(main())
