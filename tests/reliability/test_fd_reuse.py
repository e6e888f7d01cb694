"""fd reuse in every order: an idle loop stays idle (no CPU) and every waiter gets its data.

Defect 2 of issue 13: a task finished ``sock_recv`` (treadle parks the registration until the
next poll, core/_fdregistry.py), closed the socket in the same step while a dup or a forked child
kept the file open, and a new socket with the same fd number waited in ``sock_recv``. The kernel's
epoll still held the old file's registration under that number; the old file was readable, so
the loop woke at once on every poll, forever: 100 % CPU where asyncio idles. Each body runs on
asyncio's loop and every treadle poller; idleness is measured as CPU time over a real interval.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from treadle.core import EventLoop, available_pollers, new_event_loop

IDLE_SECONDS = 0.4
# An idle loop uses a few milliseconds of CPU here; a spinning one uses the whole interval, or
# (on a loaded two-core machine) at least a third of it.
IDLE_CPU_BOUND = 0.08


def _pair() -> tuple[socket.socket, socket.socket]:
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    return a, b


async def _cpu_while_idle() -> float:
    started = time.thread_time()
    await asyncio.sleep(IDLE_SECONDS)
    return time.thread_time() - started


@contextmanager
def _file_kept_open(sock: socket.socket, how: str) -> Iterator[None]:
    """Keep ``sock``'s open file alive elsewhere: a dup in this process, or a child process."""
    if how == "dup":
        dup = os.dup(sock.fileno())
        try:
            yield
        finally:
            os.close(dup)
        return
    code = "import sys; sys.stdin.read()"
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, pass_fds=[sock.fileno()]
    )
    try:
        yield
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait()


def _socket_with_fd(number: int) -> tuple[socket.socket, socket.socket]:
    """A connected pair whose first socket has fd ``number`` (just freed, so the OS reuses it)."""
    a, b = _pair()
    if a.fileno() != number:
        a, b = b, a
    assert a.fileno() == number, "the OS did not reuse the fd number"
    return a, b


async def _recv_then_close_and_reuse(loop: asyncio.AbstractEventLoop, how: str) -> float:
    """The defect's order: recv (parks), close with the file kept open, reuse the number, wait."""
    a, b = _pair()
    with _file_kept_open(b, how):
        loop.call_soon(a.send, b"x")
        assert await loop.sock_recv(b, 10) == b"x"
        number = b.fileno()
        a.send(b"pending")  # the old file is readable from now on
        b.close()
        a.close()
        c, d = _socket_with_fd(number)
        try:
            waiter = asyncio.ensure_future(loop.sock_recv(c, 10))
            cpu = await _cpu_while_idle()
            d.send(b"new")
            assert await asyncio.wait_for(waiter, 5) == b"new"
            return cpu
        finally:
            c.close()
            d.close()


@pytest.mark.parametrize("how", ["dup", "child"])
def test_recv_close_reuse_in_one_step_idles(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any], how: str
) -> None:
    cpu = run(_recv_then_close_and_reuse(loop, how))
    assert cpu < IDLE_CPU_BOUND, f"{cpu:.3f} s of CPU in {IDLE_SECONDS} s idle: spinning"


async def _recv_then_close_then_poll_then_reuse(loop: asyncio.AbstractEventLoop) -> float:
    """Close with the registration parked, let the loop poll, then reuse the number."""
    a, b = _pair()
    with _file_kept_open(b, "dup"):
        loop.call_soon(a.send, b"x")
        assert await loop.sock_recv(b, 10) == b"x"
        number = b.fileno()
        a.send(b"pending")
        b.close()
        a.close()
        await asyncio.sleep(0.05)  # polls in between
        c, d = _socket_with_fd(number)
        try:
            waiter = asyncio.ensure_future(loop.sock_recv(c, 10))
            cpu = await _cpu_while_idle()
            d.send(b"new")
            assert await asyncio.wait_for(waiter, 5) == b"new"
            return cpu
        finally:
            c.close()
            d.close()


def test_recv_close_poll_reuse_idles(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any]
) -> None:
    cpu = run(_recv_then_close_then_poll_then_reuse(loop))
    assert cpu < IDLE_CPU_BOUND, f"{cpu:.3f} s of CPU in {IDLE_SECONDS} s idle: spinning"


async def _reuse_inside_a_callback(loop: asyncio.AbstractEventLoop) -> float:
    """A plain callback closes a watched socket (file kept open) and watches a new one there."""
    a, b = _pair()
    got: asyncio.Future[bytes] = loop.create_future()
    kept: list[socket.socket] = []
    with _file_kept_open(b, "dup"):
        loop.add_reader(b, b.recv, 10)

        def swap() -> None:
            number = b.fileno()
            loop.remove_reader(b)
            a.send(b"pending")
            b.close()
            c, d = _socket_with_fd(number)
            kept.extend((c, d))
            loop.add_reader(c, lambda: got.done() or got.set_result(c.recv(10)))

        loop.call_soon(swap)
        try:
            cpu = await _cpu_while_idle()
            kept[1].send(b"new")
            assert await asyncio.wait_for(got, 5) == b"new"
            loop.remove_reader(kept[0])
            return cpu
        finally:
            a.close()
            for sock in kept:
                sock.close()


def test_reuse_inside_a_callback_idles(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any]
) -> None:
    cpu = run(_reuse_inside_a_callback(loop))
    assert cpu < IDLE_CPU_BOUND, f"{cpu:.3f} s of CPU in {IDLE_SECONDS} s idle: spinning"


async def _close_with_waiter_parked(loop: asyncio.AbstractEventLoop) -> float:
    """recv parks the registration; the socket closes (file kept open); nothing reuses it."""
    a, b = _pair()
    with _file_kept_open(b, "dup"):
        loop.call_soon(a.send, b"x")
        assert await loop.sock_recv(b, 10) == b"x"
        a.send(b"pending")
        b.close()
        try:
            return await _cpu_while_idle()
        finally:
            a.close()


def test_close_with_registration_parked_idles(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any]
) -> None:
    cpu = run(_close_with_waiter_parked(loop))
    assert cpu < IDLE_CPU_BOUND, f"{cpu:.3f} s of CPU in {IDLE_SECONDS} s idle: spinning"


async def _writer_reuse(loop: asyncio.AbstractEventLoop) -> float:
    """The same trap on the write side: sendall parks a writer, close, reuse, wait to read."""
    a, b = _pair()
    b.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    with _file_kept_open(b, "dup"):
        sender = asyncio.ensure_future(loop.sock_sendall(b, b"y" * 1_000_000))
        while not sender.done():
            await loop.sock_recv(a, 65536)
        number = b.fileno()
        b.close()
        a.close()
        c, d = _socket_with_fd(number)
        try:
            waiter = asyncio.ensure_future(loop.sock_recv(c, 10))
            cpu = await _cpu_while_idle()
            d.send(b"new")
            assert await asyncio.wait_for(waiter, 5) == b"new"
            return cpu
        finally:
            c.close()
            d.close()


def test_send_close_reuse_idles(loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any]) -> None:
    cpu = run(_writer_reuse(loop))
    assert cpu < IDLE_CPU_BOUND, f"{cpu:.3f} s of CPU in {IDLE_SECONDS} s idle: spinning"


# -- treadle only: the cure costs nothing when there is no lingering registration ---------------


@pytest.fixture(params=available_pollers())
def tloop(request: pytest.FixtureRequest) -> Iterator[EventLoop]:
    loop = new_event_loop(poller=request.param)
    yield loop
    loop.close()


def test_recv_close_reuse_without_a_dup_never_rebuilds_the_poller(tloop: EventLoop) -> None:
    # "recv, then close, then a new socket" is the common case; rebuilding the poller each time
    # (a syscall per watched fd) would make it expensive. Only a spurious event may rebuild.
    async def main() -> None:
        for _ in range(20):
            a, b = _pair()
            loop_poller = tloop._registry.poller
            try:
                tloop.call_soon(a.send, b"x")
                assert await tloop.sock_recv(b, 10) == b"x"
            finally:
                a.close()
                b.close()
            c, d = _pair()
            try:
                tloop.call_soon(d.send, b"y")
                assert await tloop.sock_recv(c, 10) == b"y"
            finally:
                c.close()
                d.close()
            assert tloop._registry.poller is loop_poller

    tloop.run_until_complete(main())


def test_spurious_event_on_a_reused_number_rebuilds_the_poller_once(tloop: EventLoop) -> None:
    async def main() -> None:
        before = tloop._registry.poller
        await _recv_then_close_and_reuse(tloop, "dup")
        rebuilt = tloop._registry.poller is not before
        # epoll keeps the closed file's registration (and must start afresh); the others do not.
        assert rebuilt == (tloop._registry.poller.name == "epoll")

    tloop.run_until_complete(main())
