"""The echo client every server style shares: one blocking socket in its own process.

Run by echo/bench.py as ``python -m benchmarks.echo.client ...``. It connects, does
``--warmup`` round trips, writes one byte to ``--ready-fd``, blocks until it can read one
byte from ``--go-fd``, then times ``--count`` round trips and prints one JSON line:
``{"start": ..., "end": ..., "count": ..., "cpu": ..., "latencies": [...]}``, the latencies
being each timed round trip in seconds, for the parent's percentiles, and ``cpu`` the client
process's CPU seconds over the timed round trips (what the clients cost the shared machine).

The timestamps come from time.perf_counter, which on Linux and macOS reads a system-wide
monotonic clock, so the parent may compare them across client processes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import TYPE_CHECKING

from benchmarks.echo.endpoints import TRANSPORTS, connect

if TYPE_CHECKING:
    import socket


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    payload = bytes(i % 251 for i in range(args.size))
    received = bytearray(args.size)
    with connect(args.transport, args.address, args.timeout, args.cafile) as sock:
        for _ in range(args.warmup):
            _round_trip(sock, payload, received)
        os.write(args.ready_fd, b"r")
        if os.read(args.go_fd, 1) != b"g":
            raise SystemExit("start barrier closed before the go signal")
        # One clock read per round trip: it serves as the end of one and the start of the next,
        # so recording latencies adds a subtraction and an append to each round trip.
        latencies: list[float] = []
        cpu_start = time.process_time()
        start = before = time.perf_counter()
        for _ in range(args.count):
            _round_trip(sock, payload, received)
            after = time.perf_counter()
            latencies.append(after - before)
            before = after
        end = before
        cpu = time.process_time() - cpu_start
        if args.transport == "udp":
            sock.send(b"")  # a datagram socket has no close to see: say goodbye with an empty one
    report = {
        "start": start,
        "end": end,
        "count": args.count,
        "cpu": cpu,
        "latencies": latencies,
    }
    print(json.dumps(report))
    return 0


def _round_trip(sock: socket.socket, payload: bytes, received: bytearray) -> None:
    sock.sendall(payload)
    view = memoryview(received)
    got = 0
    while got < len(payload):
        n = sock.recv_into(view[got:])
        if n == 0:
            raise ConnectionError(f"server closed after {got} of {len(payload)} bytes")
        got += n
    # Cheap next to a round trip, and it turns a loop that corrupts data into a failure.
    if received != payload:
        raise ValueError("echoed bytes differ from the bytes sent")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transport", choices=TRANSPORTS, required=True)
    parser.add_argument("--address", required=True)
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--warmup", type=int, default=0)
    parser.add_argument("--ready-fd", type=int, required=True)
    parser.add_argument("--go-fd", type=int, required=True)
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--cafile", default="", help="the CA to trust (tls transport)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
