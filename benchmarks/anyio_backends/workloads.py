"""Five workloads through AnyIO's public API, the same code on every AnyIO backend.

Each workload is ``async def (n) -> float``: it does its work ``n`` times and returns the seconds
spent in the timed part. The backend is chosen by ``anyio.run(..., backend=...)`` only.
"""

from __future__ import annotations

import time

import anyio
from anyio.abc import SocketAttribute, SocketStream


async def _noop() -> None:
    pass


async def spawn(n: int) -> float:
    """A task group starts ``n`` trivial tasks and waits for them."""
    started = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(n):
            tg.start_soon(_noop)
    return time.perf_counter() - started


async def scope_churn(n: int) -> float:
    """Enter and exit ``n`` cancel scopes, one after the other, in one task."""
    started = time.perf_counter()
    for _ in range(n):
        with anyio.CancelScope():  # noqa: ASYNC100  # entering and leaving is what is timed
            pass
    return time.perf_counter() - started


async def cancel_sleepers(n: int) -> float:
    """Cancel a task group of ``n`` tasks parked in sleep_forever; time from cancel() to exit."""
    async with anyio.create_task_group() as tg:
        for _ in range(n):
            tg.start_soon(anyio.sleep_forever)
        await anyio.wait_all_tasks_blocked()
        started = time.perf_counter()
        tg.cancel_scope.cancel()
    return time.perf_counter() - started


async def _bounce(
    receive: anyio.abc.ObjectReceiveStream[int], send: anyio.abc.ObjectSendStream[int]
) -> None:
    async with receive, send:
        async for item in receive:
            await send.send(item)


async def memory_ping_pong(n: int) -> float:
    """``n`` round trips of an item between two tasks over unbuffered memory object streams."""
    to_peer, peer_in = anyio.create_memory_object_stream[int]()
    peer_out, from_peer = anyio.create_memory_object_stream[int]()
    async with anyio.create_task_group() as tg:
        tg.start_soon(_bounce, peer_in, peer_out)
        started = time.perf_counter()
        async with to_peer, from_peer:
            for i in range(n):
                await to_peer.send(i)
                await from_peer.receive()
        elapsed = time.perf_counter() - started
    return elapsed


async def _echo(stream: SocketStream) -> None:
    async with stream:
        try:
            async for chunk in stream:
                await stream.send(chunk)
        except anyio.BrokenResourceError:
            pass


async def tcp_echo(n: int) -> float:
    """``n`` round trips of 100 bytes to an echo server through AnyIO streams on 127.0.0.1."""
    payload = b"x" * 100
    async with await anyio.create_tcp_listener(local_host="127.0.0.1") as listener:
        port = listener.extra(SocketAttribute.local_port)
        async with anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, _echo)
            async with await anyio.connect_tcp("127.0.0.1", port) as client:
                started = time.perf_counter()
                for _ in range(n):
                    await client.send(payload)
                    received = 0
                    while received < len(payload):
                        received += len(await client.receive())
                elapsed = time.perf_counter() - started
            tg.cancel_scope.cancel()
    return elapsed


WORKLOADS = {
    "spawn": (spawn, 10_000, "task group spawning 10k trivial tasks"),
    "scope_churn": (scope_churn, 100_000, "enter/exit 100k cancel scopes"),
    "cancel_sleepers": (cancel_sleepers, 1_000, "cancelling a task group of 1k sleepers"),
    "memory_ping_pong": (memory_ping_pong, 10_000, "10k memory object stream round trips"),
    "tcp_echo": (tcp_echo, 5_000, "5k TCP echo round trips (100 B)"),
}
