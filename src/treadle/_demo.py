"""What ``python -m treadle`` shows: plain asyncio code running on treadle, then a speed check.

The tour runs asyncio's public API (tasks, timers, sock_* on a loopback socket, a Protocol server,
the default executor, a child process), so it is also a smoke test of the loop, and ends with a
treadle nursery and cancel scope running beside that plain asyncio code, and (when AnyIO is
installed) a short AnyIO program on treadle's own AnyIO backend. The speed check runs the same
two small workloads on asyncio's own loop and on treadle, interleaved and best of 3, and prints
the ratio measured here and now; it is a sanity check, not a benchmark (benchmarks/ has those).
"""

from __future__ import annotations

import asyncio
import functools
import gc
import hashlib
import math
import socket
import sys
import threading
import time
from collections.abc import Callable

import treadle

# Sized so the whole demo takes about two seconds on a small machine.
CALLBACKS = 200_000
TASKS = 20_000
SLEEPS_PER_TASK = 2
REPEATS = 3

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


def main(*, poller: str | None = None) -> int:
    """The tour, then the speed check: ``python -m treadle``."""
    _header(poller)
    print()
    treadle.run(_tour(), poller=poller)
    _show_anyio()
    print()
    _speed_check(poller)
    return 0


def bench(*, poller: str | None = None) -> int:
    """The speed check alone: ``python -m treadle bench``."""
    _header(poller)
    print()
    _speed_check(poller)
    return 0


def _header(poller: str | None) -> None:
    print(f"treadle {treadle.__version__} on Python {sys.version.split()[0]} ({sys.platform})")
    chosen = f"; using {poller}" if poller is not None else ""
    print(f"pollers available here: {', '.join(treadle.available_pollers())}{chosen}")
    print(f"compiled core (mypyc): {treadle.compiled}")


# --- the tour -------------------------------------------------------------------------------------


async def _tour() -> None:
    loop = asyncio.get_running_loop()
    kind = "a treadle.EventLoop" if isinstance(loop, treadle.EventLoop) else type(loop).__name__
    print(f"treadle.run() is running this coroutine on {kind}")
    await _show_gather()
    await _show_timers()
    await _show_tcp_round_trip()
    await _show_protocol_server()
    await _show_executor()
    await _show_subprocess()
    await _show_nursery()


async def _show_gather() -> None:
    async def fetch(name: str, delay: float) -> str:
        await asyncio.sleep(delay)
        return name.upper()

    results = await asyncio.gather(fetch("a", 0.03), fetch("b", 0.01), fetch("c", 0.02))
    print(f"  tasks     asyncio.gather of 3 sleeping tasks returned {results} (argument order)")


async def _show_timers() -> None:
    loop = asyncio.get_running_loop()
    fired: list[str] = []
    all_fired = loop.create_future()

    def fire(label: str) -> None:
        fired.append(label)
        if len(fired) == 4:
            all_fired.set_result(None)

    # Registered out of order on purpose: they must run by deadline, call_soon first.
    loop.call_later(0.03, fire, "30ms")
    loop.call_later(0.01, fire, "10ms")
    loop.call_later(0.02, fire, "20ms")
    loop.call_soon(fire, "soon")
    await all_fired
    print(f"  timers    call_later/call_soon fired in deadline order: {', '.join(fired)}")


async def _show_tcp_round_trip() -> None:
    loop = asyncio.get_running_loop()
    with (
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener,
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as client,
    ):
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        client.setblocking(False)
        address = listener.getsockname()
        (server_side, _), _ = await asyncio.gather(
            loop.sock_accept(listener), loop.sock_connect(client, address)
        )
        with server_side:
            server_side.setblocking(False)
            await loop.sock_sendall(client, b"ping")
            request = await loop.sock_recv(server_side, 100)
            await loop.sock_sendall(server_side, request.replace(b"i", b"o"))
            reply = await loop.sock_recv(client, 100)
    print(
        f"  tcp       sock_accept/sock_connect on {address[0]}:{address[1]}, "
        f"sent {request!r}, got {reply!r} back"
    )


class _Upper(asyncio.Protocol):
    """Answers every chunk in capitals: an ordinary asyncio Protocol."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.transport.write(data.upper())


async def _show_protocol_server() -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Upper, "127.0.0.1", 0)
    async with server:
        host, port = server.sockets[0].getsockname()[:2]
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"hello, protocol")
        reply = await reader.readexactly(len(b"hello, protocol"))
        writer.close()
        await writer.wait_closed()
    print(f"  server    create_server + open_connection on {host}:{port}: {reply!r}")


async def _show_nursery() -> None:
    finished: list[str] = []

    async def worker(name: str, seconds: float) -> None:
        await asyncio.sleep(seconds)
        finished.append(name)

    started = time.monotonic()
    async with treadle.open_nursery() as nursery:
        nursery.start_soon(worker, "quick", 0.01)
        with treadle.move_on_after(0.05) as scope:
            nursery.start_soon(worker, "slow", 10)  # a nursery child: not inside the scope
            await asyncio.sleep(10)  # cut short by the scope's deadline
        nursery.cancel_scope.cancel()  # stop "slow" too; the nursery waits for it to unwind
    elapsed = time.monotonic() - started
    print(
        f"  nursery   children finished: {finished}; move_on_after caught its timeout: "
        f"{scope.cancelled_caught}; the nursery closed after {elapsed:.2f}s"
    )


async def _show_executor() -> None:
    loop = asyncio.get_running_loop()

    def digest() -> tuple[str, str]:
        # Blocking work belongs in a thread; the name shows it did not run on the loop's thread.
        return threading.current_thread().name, hashlib.sha256(b"treadle").hexdigest()[:16]

    thread_name, hexdigest = await loop.run_in_executor(None, digest)
    print(f"  executor  run_in_executor hashed in thread {thread_name!r}: sha256 {hexdigest}...")


async def _show_subprocess() -> None:
    # A child Python echoing its stdin upper-cased: pipes both ways, and the child reaped.
    child = "import sys; sys.stdout.write(sys.stdin.read().upper())"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        child,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await process.communicate(b"hello, child")
    print(
        f"  process   create_subprocess_exec: the child answered {out!r} "
        f"and exited with {process.returncode}"
    )


def _show_anyio() -> None:
    try:
        import anyio
    except ImportError:
        print("  anyio     not installed; with it, anyio.run(main, backend='treadle') runs here")
        return

    async def child(results: list[int], n: int) -> None:
        await anyio.sleep(0.01 * n)
        results.append(n)

    async def main() -> tuple[list[int], bool]:
        results: list[int] = []
        async with anyio.create_task_group() as tg:
            for n in (3, 1, 2):
                tg.start_soon(child, results, n)
        with anyio.move_on_after(0.02) as scope:
            await anyio.sleep(10)
        return results, scope.cancelled_caught

    results, timed_out = anyio.run(main, backend="treadle")
    print(
        f"  anyio     anyio.run(main, backend='treadle'): task group children finished in order "
        f"{results}; move_on_after caught its timeout: {timed_out}"
    )


# --- the speed check ------------------------------------------------------------------------------


def _speed_check(poller: str | None) -> None:
    print(f"speed, best of {REPEATS} (same machine, same process, measured just now):")
    workloads: list[tuple[str, Callable[[asyncio.AbstractEventLoop], float]]] = [
        (f"{CALLBACKS:,} call_soon callbacks", _time_call_soon),
        (f"{TASKS:,} tasks x {SLEEPS_PER_TASK} sleep(0)", _time_tasks),
    ]
    ratios = []
    for label, workload in workloads:
        asyncio_best, treadle_best = _best_of(workload, poller)
        ratio = asyncio_best / treadle_best
        ratios.append(ratio)
        print(
            f"  {label:<28} asyncio {asyncio_best * 1000:6.1f} ms   "
            f"treadle {treadle_best * 1000:6.1f} ms   treadle is {ratio:.2f}x asyncio"
        )
    overall = math.prod(ratios) ** (1 / len(ratios))
    print(f"overall (geometric mean): treadle is {overall:.2f}x asyncio (higher is faster)")


def _asyncio_loop() -> asyncio.AbstractEventLoop:
    # asyncio.EventLoop (3.13+) is asyncio's default loop class; before it, on Unix, that is
    # SelectorEventLoop. We build it directly so an installed policy cannot swap it out.
    factory: LoopFactory = getattr(asyncio, "EventLoop", asyncio.SelectorEventLoop)
    return factory()


def _best_of(
    workload: Callable[[asyncio.AbstractEventLoop], float], poller: str | None
) -> tuple[float, float]:
    """Best time of the workload on asyncio's loop and on treadle's, runs interleaved."""
    factories: tuple[LoopFactory, LoopFactory] = (
        _asyncio_loop,
        functools.partial(treadle.new_event_loop, poller=poller),
    )
    best = [math.inf, math.inf]
    for _ in range(REPEATS):
        # Interleaving keeps a slow moment of the machine from landing on one loop only.
        for index, factory in enumerate(factories):
            loop = factory()
            try:
                gc.collect()
                best[index] = min(best[index], workload(loop))
            finally:
                loop.close()
    return best[0], best[1]


def _time_call_soon(loop: asyncio.AbstractEventLoop) -> float:
    done = loop.create_future()
    remaining = CALLBACKS

    def tick() -> None:
        nonlocal remaining
        remaining -= 1
        if remaining == 0:
            done.set_result(None)

    start = time.perf_counter()
    for _ in range(CALLBACKS):
        loop.call_soon(tick)
    loop.run_until_complete(done)
    return time.perf_counter() - start


def _time_tasks(loop: asyncio.AbstractEventLoop) -> float:
    async def player() -> None:
        for _ in range(SLEEPS_PER_TASK):
            await asyncio.sleep(0)

    async def match() -> None:
        await asyncio.gather(*(player() for _ in range(TASKS)))

    start = time.perf_counter()
    loop.run_until_complete(match())
    return time.perf_counter() - start
