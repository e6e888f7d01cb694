"""Fixtures shared by the whole suite.

The central one is ``loop``: every loop test runs its body once on asyncio's own loop (the oracle)
and once per treadle poller available here (the subject). If the oracle fails a test, the test is
wrong. Around each test, tripwires fail it on a leaked fd, a leaked thread, or an unexpected call
to the loop's exception handler.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

try:
    from treadle.core import available_pollers, new_event_loop
except ImportError:  # the core is being written; keep the oracle runnable meanwhile
    available_pollers = None  # type: ignore[assignment]
    new_event_loop = None  # type: ignore[assignment]

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


def _loop_kinds() -> list[str]:
    kinds = ["asyncio"]
    if available_pollers is not None:
        kinds += [f"treadle-{name}" for name in available_pollers()]
    return kinds


LOOP_KINDS = _loop_kinds()


def make_loop_factory(kind: str) -> LoopFactory:
    if kind == "asyncio":
        return asyncio.new_event_loop
    poller = kind.removeprefix("treadle-")
    assert new_event_loop is not None

    def factory() -> asyncio.AbstractEventLoop:
        return new_event_loop(poller=poller)

    return factory


@pytest.fixture(params=LOOP_KINDS)
def loop_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def loop_factory(loop_kind: str) -> LoopFactory:
    return make_loop_factory(loop_kind)


@pytest.fixture
def is_oracle(loop_kind: str) -> bool:
    """True when this run is on asyncio's own loop."""
    return loop_kind == "asyncio"


class ExceptionContexts(list[dict[str, Any]]):
    """What reached the loop's exception handler during a test.

    A test that expects calls requests the ``exception_contexts`` fixture and asserts on it; any
    other test fails at teardown if the handler was called at all.
    """

    expected = False


@pytest.fixture
def _handler_calls() -> ExceptionContexts:
    return ExceptionContexts()


@pytest.fixture
def exception_contexts(_handler_calls: ExceptionContexts) -> ExceptionContexts:
    _handler_calls.expected = True
    return _handler_calls


@pytest.fixture
def loop(loop_factory: LoopFactory, _handler_calls: ExceptionContexts) -> Iterator[Any]:
    """A fresh event loop of the parametrized kind, closed (and checked) after the test."""
    ev_loop = loop_factory()

    def record(_: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        _handler_calls.append(context)

    ev_loop.set_exception_handler(record)
    try:
        yield ev_loop
    finally:
        if not ev_loop.is_closed():
            _drain(ev_loop)
            ev_loop.close()
    if _handler_calls and not _handler_calls.expected:
        pytest.fail(f"unexpected exception handler calls: {list(_handler_calls)!r}")


def _drain(ev_loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what a failing test left behind, so closing the loop does not warn."""
    tasks = asyncio.all_tasks(ev_loop)
    for task in tasks:
        task.cancel()
    if tasks:
        ev_loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    ev_loop.run_until_complete(ev_loop.shutdown_asyncgens())
    ev_loop.run_until_complete(ev_loop.shutdown_default_executor())


@pytest.fixture
def run(loop: asyncio.AbstractEventLoop) -> Callable[[Any], Any]:
    """``run(coro)`` runs a coroutine to completion on the test's loop."""
    return loop.run_until_complete


# --- tripwires ------------------------------------------------------------------------------------


def _open_fds() -> set[int]:
    if sys.platform == "linux":
        return {int(name) for name in os.listdir("/proc/self/fd")}
    if sys.platform == "darwin":
        return {int(name) for name in os.listdir("/dev/fd")}
    return set()


def _describe_fd(fd: int) -> str:
    try:
        return f"{fd} -> {os.readlink(f'/proc/self/fd/{fd}')}"
    except OSError:
        return str(fd)


@pytest.fixture(autouse=True)
def _no_leaked_fds_or_threads() -> Iterator[None]:
    threads_before = set(threading.enumerate())
    fds_before = _open_fds()
    yield
    # Objects waiting for the collector may still hold fds; a leak is what survives a collection.
    leaked_fds: set[int] = set()
    leaked_threads: set[threading.Thread] = set()
    for attempt in range(20):
        if attempt:
            gc.collect()  # only when something looks leaked: a collection per test is costly
        leaked_fds = {fd for fd in _open_fds() - fds_before if _still_open(fd)}
        leaked_threads = {
            t for t in set(threading.enumerate()) - threads_before if t.is_alive() and not t.daemon
        }
        if not leaked_fds and not leaked_threads:
            return
        if attempt:
            time.sleep(0.05)  # executor threads exit shortly after shutdown(wait=False)
    problems = []
    if leaked_fds:
        problems.append("leaked fds: " + ", ".join(_describe_fd(fd) for fd in sorted(leaked_fds)))
    if leaked_threads:
        problems.append(f"leaked threads: {sorted(t.name for t in leaked_threads)}")
    pytest.fail("; ".join(problems))


def _still_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True
