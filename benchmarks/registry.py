"""Every benchmark the runner knows: its name, the function that runs it, and its sizes.

Sizes are keyword arguments of the function. Those named in ``scaled`` are multiplied by the
runner's scale (``--quick`` uses a smaller one) and by WARMUP_FRACTION for the warm-up run.
Default sizes aim at roughly 0.2-0.6 s per timed run on asyncio's loop on a small machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from benchmarks import memory, scheduling, subprocesses, tasks, threads, tls_handshake
from benchmarks.echo import bench as echo_bench

if TYPE_CHECKING:
    from collections.abc import Callable

    from benchmarks.loops import LoopFactory
    from benchmarks.measurement import Measurement

# The warm-up run in each process does this fraction of the timed work.
WARMUP_FRACTION = 0.1


@dataclass(frozen=True)
class Benchmark:
    name: str
    # Plural noun for what one op is; the report says "<unit>/s".
    unit: str
    run: Callable[..., Measurement]
    params: dict[str, int | str] = field(default_factory=dict)
    scaled: tuple[str, ...] = ()
    # False when the benchmark warms itself up (the echo clients do warm-up round trips).
    warmup: bool = True
    # Part of the `--quick` subset (every core-loop benchmark, echo at 1 KiB only).
    quick: bool = True
    description: str = ""

    def sized(self, scale: float) -> dict[str, int | str]:
        params = dict(self.params)
        for key in self.scaled:
            value = params[key]
            assert isinstance(value, int), f"{self.name}: scaled parameter {key} must be an int"
            params[key] = max(1, round(value * scale))
        return params

    def measure(self, new_loop: LoopFactory, scale: float) -> Measurement:
        return self.run(new_loop, **self.sized(scale))


def _echo(style: str, transport: str, size: int, clients: int, count: int) -> Benchmark:
    return Benchmark(
        quick=size == 1024,
        name=f"echo_{style}_{transport}_{size // 1024}k_c{clients}",
        unit="requests",
        run=echo_bench.echo,
        params={
            "style": style,
            "transport": transport,
            "size": size,
            "clients": clients,
            "count": count,
            "warmup": 200,
        },
        scaled=("count", "warmup"),
        warmup=False,
        description=(
            f"{style} echo server over {transport}, {size // 1024} KiB messages, "
            f"{clients} client process(es), {count} round trips each"
        ),
    )


# uvloop's published echo methodology: these server styles, 1/10/100 KiB, 1 and 10 clients.
_ECHO_STYLES = (
    ("sock", "tcp"),
    ("protocol", "tcp"),
    ("streams", "tcp"),
    ("protocol", "unix"),
    ("datagram", "udp"),
    ("protocol", "tls"),  # the Protocol server with ssl=, clients with blocking ssl sockets
)
# A UDP datagram holds at most 64 KiB, so UDP stops at 10 KiB.
_ECHO_SIZES_KIB = {"tcp": (1, 10, 100), "unix": (1, 10, 100), "udp": (1, 10), "tls": (1, 10, 100)}
_ECHO_COUNTS = {
    (1, 1): 10_000,
    (1, 10): 2_000,
    (10, 1): 5_000,
    (10, 10): 1_000,
    (100, 1): 1_000,
    (100, 10): 200,
}

BENCHMARKS: tuple[Benchmark, ...] = (
    Benchmark(
        name="call_soon_chain",
        unit="callbacks",
        run=scheduling.call_soon_chain,
        params={"callbacks": 200_000},
        scaled=("callbacks",),
        description="each callback call_soon()s the next; one callback per loop iteration",
    ),
    Benchmark(
        name="call_soon_batch",
        unit="callbacks",
        run=scheduling.call_soon_batch,
        params={"callbacks": 100_000, "batches": 3},
        scaled=("callbacks",),
        description="call_soon() 100k callbacks, then run them all; 3 batches",
    ),
    Benchmark(
        name="timer_churn",
        unit="timers",
        run=scheduling.timer_churn,
        params={"timers": 100_000, "wave": 1000, "background": 500},
        scaled=("timers",),
        description=(
            "call_later() at scattered times 1 s-1 h ahead, then cancel, 1000 per loop "
            "iteration, 500 long timers armed throughout"
        ),
    ),
    Benchmark(
        name="call_soon_threadsafe_1t",
        unit="callbacks",
        run=scheduling.call_soon_threadsafe_threads,
        params={"callbacks": 200_000, "threads": 1},
        scaled=("callbacks",),
        description="one thread call_soon_threadsafe()s 200k callbacks to a running loop",
    ),
    Benchmark(
        name="call_soon_threadsafe_4t",
        unit="callbacks",
        run=scheduling.call_soon_threadsafe_threads,
        params={"callbacks": 200_000, "threads": 4},
        scaled=("callbacks",),
        description="four threads call_soon_threadsafe() 200k callbacks in all to a running loop",
    ),
    Benchmark(
        name="sleep0_pingpong",
        unit="switches",
        run=tasks.sleep0_pingpong,
        params={"tasks": 100, "iterations": 1000},
        scaled=("iterations",),
        description="100 tasks each await asyncio.sleep(0) 1000 times",
    ),
    Benchmark(
        name="gather_tasks",
        unit="tasks",
        run=tasks.gather_tasks,
        params={"tasks": 10_000, "repeats": 5},
        scaled=("tasks",),
        description="create_task() 10k trivial coroutines and gather them; 5 times",
    ),
    Benchmark(
        name="subprocess_spawn_wait",
        unit="processes",
        run=subprocesses.spawn_wait,
        params={"processes": 400, "concurrency": 1},
        scaled=("processes",),
        description="create_subprocess_exec('true') then wait(), one at a time, 400 times",
    ),
    Benchmark(
        name="subprocess_pipe_throughput",
        unit="MiB",
        run=subprocesses.pipe_throughput,
        params={"mebibytes": 64, "chunk": 64 * 1024, "children": 5},
        scaled=("mebibytes",),
        description=(
            "64 MiB through `cat` and back over its stdin/stdout pipes, 64 KiB writes; "
            "5 children, one after the other"
        ),
    ),
    Benchmark(
        name="future_roundtrip",
        unit="futures",
        run=threads.future_roundtrip,
        params={"rounds": 100_000},
        scaled=("rounds",),
        description="a task awaits a fresh loop future that a call_soon callback resolves",
    ),
    Benchmark(
        name="getaddrinfo",
        unit="lookups",
        run=threads.getaddrinfo,
        params={"lookups": 10_000},
        scaled=("lookups",),
        description="sequential loop.getaddrinfo('127.0.0.1', 8080, type=SOCK_STREAM)",
    ),
    Benchmark(
        name="run_in_executor",
        unit="calls",
        run=threads.run_in_executor,
        params={"calls": 10_000},
        scaled=("calls",),
        description="sequential run_in_executor(None, no-op) round trips",
    ),
    Benchmark(
        name="call_soon_threadsafe",
        unit="callbacks",
        run=threads.call_soon_threadsafe,
        params={"callbacks": 200_000},
        scaled=("callbacks",),
        description="one thread call_soon_threadsafe()s 200k callbacks; until the loop ran them",
    ),
    Benchmark(
        name="idle_connections",
        unit="connections",
        run=memory.idle_connections,
        params={"connections": 10_000},
        warmup=False,
        quick=False,
        description="RSS per idle TCP connection: 10k connections to a Protocol server",
    ),
    Benchmark(
        name="pending_timers",
        unit="timers",
        run=memory.pending_timers,
        params={"timers": 200_000},
        warmup=False,
        description="RSS per pending timer: 200k call_later() an hour ahead",
    ),
    *(
        _echo(style, transport, size * 1024, clients, count)
        for style, transport in _ECHO_STYLES
        for size in _ECHO_SIZES_KIB[transport]
        for clients in (1, 10)
        # Round trips per client: about the same wall time per run whatever the size.
        for count in [_ECHO_COUNTS[(size, clients)]]
    ),
    Benchmark(
        name="tls_handshake_c10",
        unit="connections",
        run=tls_handshake.handshakes,
        params={"connections": 400, "concurrency": 10},
        scaled=("connections",),
        description=(
            "open a TLS connection (TLS 1.3, ECDSA), close it with close_notify; client and "
            "server on the loop under test, 10 at a time"
        ),
    ),
)

BY_NAME: dict[str, Benchmark] = {bench.name: bench for bench in BENCHMARKS}
