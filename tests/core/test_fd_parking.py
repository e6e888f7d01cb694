"""Parked registrations (core/_fdregistry.py): the sock_* fast path and its traps.

treadle-only: asyncio removes registrations at once, so there is nothing to compare with. Each
test names the trap from the registry's module docstring that it closes.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from treadle.core import EventLoop, available_pollers, new_event_loop


@pytest.fixture(params=available_pollers())
def tloop(request: pytest.FixtureRequest) -> Iterator[EventLoop]:
    loop = new_event_loop(poller=request.param)
    yield loop
    loop.close()


class PollCounter:
    def __init__(self) -> None:
        self.polls = 0

    def before_io_wait(self, timeout: float) -> None:
        self.polls += 1

    def after_io_wait(self, timeout: float) -> None:
        pass


class CountingPoller:
    """Wraps the loop's real poller and counts register/modify/unregister calls."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.counts = {"register": 0, "modify": 0, "unregister": 0}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def register(self, fd: int, mask: int) -> None:
        self.counts["register"] += 1
        self.real.register(fd, mask)

    def modify(self, fd: int, mask: int) -> None:
        self.counts["modify"] += 1
        self.real.modify(fd, mask)

    def unregister(self, fd: int) -> None:
        self.counts["unregister"] += 1
        self.real.unregister(fd)


def _count_poller_calls(loop: EventLoop, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count register/modify/unregister calls on the loop's real poller.

    The registry's poller is swapped for a counting wrapper, not patched method by method: in
    the compiled build (mypyc) the poller's methods are read-only.
    """
    counting = CountingPoller(loop._registry.poller)
    monkeypatch.setattr(loop._registry, "_poller", counting)
    return counting.counts


async def _recv_after_waiting(
    loop: EventLoop, sender: socket.socket, receiver: socket.socket, data: bytes
) -> bytes:
    """sock_recv in the caller's own task that has to wait, so it registers and then parks a
    reader; the caller resumes in the same step, before the next poll settles the parking."""
    loop.call_soon(loop.call_soon, sender.send, data)  # after sock_recv has started waiting
    received = await loop.sock_recv(receiver, 10)
    assert loop._registry._interests[receiver.fileno()].parked
    return received


def test_echo_loop_makes_no_poller_calls_per_message(
    tloop: EventLoop, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)

    async def echo() -> None:
        while data := await tloop.sock_recv(b, 1024):
            await tloop.sock_sendall(b, data)

    async def client(rounds: int) -> None:
        for i in range(rounds):
            await tloop.sock_sendall(a, b"%d" % i)
            assert await tloop.sock_recv(a, 1024) == b"%d" % i

    async def main() -> dict[str, int]:
        server = asyncio.ensure_future(echo())
        await client(5)  # warm up: registrations exist now
        counts = _count_poller_calls(tloop, monkeypatch)
        await client(200)
        a.shutdown(socket.SHUT_WR)
        await server
        return counts

    try:
        counts = tloop.run_until_complete(main())
    finally:
        a.close()
        b.close()
    # Without parking: about 4 calls per round trip (two fds, add and remove each).
    assert sum(counts.values()) < 20


def test_fd_number_reused_after_close_while_parked(tloop: EventLoop) -> None:
    # Trap: the parked registration belongs to a closed socket; a new socket gets its number.
    async def main() -> bytes:
        a, b = socket.socketpair()
        a.setblocking(False)
        b.setblocking(False)
        assert await _recv_after_waiting(tloop, a, b, b"one") == b"one"  # b's reader is parked
        old_fd = b.fileno()
        b.close()
        a.close()
        c, d = socket.socketpair()
        c.setblocking(False)
        d.setblocking(False)
        try:
            reuse = c if c.fileno() == old_fd else d
            peer = d if reuse is c else c
            assert reuse.fileno() == old_fd, "the OS did not reuse the fd number"
            # Still the same task step: the old socket's reader is parked under this number.
            assert tloop._registry._interests[old_fd].parked
            async with asyncio.timeout(5):
                return await _recv_after_waiting(tloop, peer, reuse, b"two")
        finally:
            c.close()
            d.close()

    assert tloop.run_until_complete(main()) == b"two"


def test_closed_socket_with_live_dup_does_not_make_the_loop_spin(tloop: EventLoop) -> None:
    # Trap: a dup keeps the file open, so closing our fd does not drop its epoll registration.
    counter = PollCounter()

    async def main() -> int:
        a, b = socket.socketpair()
        a.setblocking(False)
        b.setblocking(False)
        keep_alive = b.dup()
        try:
            assert await _recv_after_waiting(tloop, a, b, b"x") == b"x"
            b.close()  # while its registration is parked
            a.send(b"more")  # readable forever from now on, through the dup
            tloop.add_io_wait_hook(counter)
            await asyncio.sleep(0.2)
            tloop.remove_io_wait_hook(counter)
            return counter.polls
        finally:
            keep_alive.close()
            a.close()

    polls = tloop.run_until_complete(main())
    assert polls < 50, f"the loop polled {polls} times in 0.2 s: it is spinning"


def test_public_add_reader_on_a_parked_fd_is_registered_for_real(tloop: EventLoop) -> None:
    async def main() -> bytes:
        a, b = socket.socketpair()
        a.setblocking(False)
        b.setblocking(False)
        try:
            await _recv_after_waiting(tloop, a, b, b"x")
            got: asyncio.Future[bytes] = tloop.create_future()
            tloop.add_reader(b.fileno(), lambda: got.done() or got.set_result(b.recv(10)))
            a.send(b"y")
            async with asyncio.timeout(5):
                data = await got
            assert tloop.remove_reader(b.fileno())
            return data
        finally:
            a.close()
            b.close()

    assert tloop.run_until_complete(main()) == b"y"


def test_remove_reader_after_sock_recv_reports_nothing_registered(tloop: EventLoop) -> None:
    # As on asyncio: sock_recv left no reader behind, parked or not.
    async def main() -> bool:
        a, b = socket.socketpair()
        a.setblocking(False)
        b.setblocking(False)
        try:
            recv = asyncio.ensure_future(tloop.sock_recv(b, 10))
            await asyncio.sleep(0)
            a.send(b"x")
            await recv
            return tloop.remove_reader(b)
        finally:
            a.close()
            b.close()

    assert tloop.run_until_complete(main()) is False
