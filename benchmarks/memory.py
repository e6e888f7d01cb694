"""Memory per idle connection and per pending timer: what a loop costs while nothing happens.

- ``idle_connections``: a Protocol server accepts ``connections`` TCP connections on 127.0.0.1
  from a child process (so the clients' sockets are not in this process), and the figure is the
  growth of this process's resident set size (RSS, /proc/self/statm) from listening to all
  connections made, divided by ``connections``. Kernel socket buffers are not in RSS, for any loop.
- ``pending_timers``: ``timers`` call_later() timers an hour ahead, RSS growth per timer.

Both are reported as info figures (``rss_per_connection_b``, ``rss_per_timer_b``), medians over
the runner's rounds; the throughput column is set-up speed and means little. RSS moves in pages
and allocators keep freed memory, so the numbers are good to a few percent, not to the byte.
"""

from __future__ import annotations

import asyncio
import os
import resource
import subprocess
import sys

from benchmarks.loops import LoopFactory, fresh_loop
from benchmarks.measurement import Measurement, Stopwatch

_PAGE = os.sysconf("SC_PAGE_SIZE")

# The child: connect ``n`` sockets, say so, keep them open until stdin closes.
_CLIENT = """
import resource, socket, sys
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 64), hard))
socks = [socket.create_connection((host, port)) for _ in range(n)]
print("connected", flush=True)
sys.stdin.read()
"""


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * _PAGE


def _raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            raise RuntimeError(f"need {needed} file descriptors, the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


class _Idle(asyncio.Protocol):
    def __init__(
        self, transports: list[asyncio.BaseTransport], done: asyncio.Future[None], expected: int
    ) -> None:
        self._transports = transports
        self._done = done
        self._expected = expected

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transports.append(transport)
        if len(self._transports) == self._expected and not self._done.done():
            self._done.set_result(None)


def idle_connections(new_loop: LoopFactory, *, connections: int) -> Measurement:
    _raise_fd_limit(connections + 256)
    with fresh_loop(new_loop) as loop:
        transports: list[asyncio.BaseTransport] = []
        done: asyncio.Future[None] = loop.create_future()
        server = loop.run_until_complete(
            loop.create_server(
                lambda: _Idle(transports, done, connections), "127.0.0.1", 0, backlog=1024
            )
        )
        port = server.sockets[0].getsockname()[1]
        before = _rss_bytes()
        child = subprocess.Popen(
            [sys.executable, "-c", _CLIENT, "127.0.0.1", str(port), str(connections)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            with Stopwatch() as watch:
                loop.run_until_complete(asyncio.wait_for(done, 120))
            after = _rss_bytes()
        finally:
            assert child.stdin is not None
            child.stdin.close()
            child.wait(60)
            if child.stdout is not None:
                child.stdout.close()
            for transport in transports:
                transport.close()
            server.close()
            loop.run_until_complete(server.wait_closed())
            loop.run_until_complete(asyncio.sleep(0.01))
    per_connection = (after - before) / connections
    return watch.measurement(connections, {"rss_per_connection_b": per_connection})


def pending_timers(new_loop: LoopFactory, *, timers: int) -> Measurement:
    with fresh_loop(new_loop) as loop:
        loop.run_until_complete(asyncio.sleep(0))
        before = _rss_bytes()
        with Stopwatch() as watch:
            handles = [loop.call_later(3600.0, _noop) for _ in range(timers)]
        after = _rss_bytes()
        for handle in handles:
            handle.cancel()
        loop.run_until_complete(asyncio.sleep(0))
    return watch.measurement(timers, {"rss_per_timer_b": (after - before) / timers})


def _noop() -> None:
    pass
