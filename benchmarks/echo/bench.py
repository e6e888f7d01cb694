"""Run one echo benchmark: clients in child processes, the server on the loop under test.

Requests per second = all clients' timed round trips / (last client's end - first client's
start). The clients start together at a barrier after their warm-up, so the span covers the
time they were all running and excludes process start-up and connection set-up.

Besides throughput, the Measurement's info carries (keys in ECHO_FIGURES):

- ``p50_us`` and ``p99_us``: percentiles of every timed round trip of every client, in µs;
- ``server_cpu_us``: CPU time of the server process (time.process_time, every thread) from
  the barrier's release to the end of serving, per timed request, in µs. It includes closing
  the connections, a constant next to thousands of round trips.
- ``client_cpu_us``: CPU time of all client processes over their timed round trips, per
  request, in µs. On a machine with few cores the clients compete with the server: with
  ``N`` cores no server can exceed ``N / client CPU per request`` requests per second.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.echo import endpoints, floor, servers, tls
from benchmarks.echo.barrier import StartBarrier
from benchmarks.loops import LoopFactory, fresh_loop
from benchmarks.measurement import Measurement

if TYPE_CHECKING:
    from collections.abc import Awaitable

# Everything stops by itself: the server gives up after this long, clients after their
# socket timeout, and the parent kills any client still running when it leaves.
SERVE_TIMEOUT = 60.0
CLIENT_SOCKET_TIMEOUT = 30.0

_REPO_ROOT = Path(__file__).resolve().parents[2]

# The info keys an echo Measurement carries; the report gives them a table of their own.
ECHO_FIGURES = ("p50_us", "p99_us", "server_cpu_us", "client_cpu_us")


def echo(
    new_loop: LoopFactory,
    *,
    style: str,
    transport: str,
    size: int,
    clients: int,
    count: int,
    warmup: int,
) -> Measurement:
    serve = servers.get(style)
    if getattr(new_loop, "echo_floor", False) and transport == "udp":
        raise ValueError("the epoll floor serves stream transports only")
    with endpoints.listen(transport, backlog=max(clients, 16)) as (listener, address):
        barrier = StartBarrier(clients)
        procs: list[subprocess.Popen[str]] = []
        try:
            for _ in range(clients):
                argv = _client_argv(transport, address, size, count, warmup, barrier)
                procs.append(_spawn(argv, barrier))
            barrier.start()
            if getattr(new_loop, "echo_floor", False):
                # No loop: see echo/floor.py.
                floor.serve(listener, clients, SERVE_TIMEOUT, **_floor_options(transport))
            else:
                with fresh_loop(new_loop) as loop:
                    serving = serve(loop, listener, clients, **_server_options(transport))
                    loop.run_until_complete(_within(SERVE_TIMEOUT, serving))
            served_cpu = time.process_time()
            reports = [_report(proc) for proc in procs]
        finally:
            _stop(procs)
            barrier.close()
    start = min(report["start"] for report in reports)
    end = max(report["end"] for report in reports)
    total = sum(int(report["count"]) for report in reports)
    latencies = sorted(latency for report in reports for latency in report["latencies"])
    info = {
        "p50_us": statistics.median(latencies) * 1e6,
        "p99_us": _percentile(latencies, 0.99) * 1e6,
        "client_cpu_us": sum(float(report["cpu"]) for report in reports) / total * 1e6,
    }
    if barrier.released_cpu is not None:
        info["server_cpu_us"] = (served_cpu - barrier.released_cpu) / total * 1e6
    return Measurement(ops=total, seconds=end - start, info=info)


def _server_options(transport: str) -> dict[str, Any]:
    return {"ssl": tls.server_context()} if transport == "tls" else {}


def _floor_options(transport: str) -> dict[str, Any]:
    return {"context": tls.server_context()} if transport == "tls" else {}


def _percentile(ordered: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted, non-empty list."""
    rank = max(1, round(fraction * len(ordered)))
    return ordered[rank - 1]


async def _within(seconds: float, work: Awaitable[None]) -> None:
    async with asyncio.timeout(seconds):
        await work


def _client_argv(
    transport: str, address: str, size: int, count: int, warmup: int, barrier: StartBarrier
) -> list[str]:
    ready_fd, go_fd = barrier.child_fds()
    tls_options = [f"--cafile={tls.cafile()}"] if transport == "tls" else []
    return [
        sys.executable,
        "-m",
        "benchmarks.echo.client",
        f"--transport={transport}",
        f"--address={address}",
        f"--size={size}",
        f"--count={count}",
        f"--warmup={warmup}",
        f"--ready-fd={ready_fd}",
        f"--go-fd={go_fd}",
        f"--timeout={CLIENT_SOCKET_TIMEOUT}",
        *tls_options,
    ]


def _spawn(argv: list[str], barrier: StartBarrier) -> subprocess.Popen[str]:
    env = dict(os.environ)
    # The client imports benchmarks.*, whatever directory the runner was started from.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_REPO_ROOT), env.get("PYTHONPATH")]))
    return subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        pass_fds=barrier.child_fds(),
    )


def _report(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = proc.communicate(timeout=CLIENT_SOCKET_TIMEOUT)
    if proc.returncode != 0:
        raise RuntimeError(f"echo client exited with {proc.returncode}: {err.strip()}")
    report: dict[str, Any] = json.loads(out)
    return report


def _stop(procs: list[subprocess.Popen[str]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
