"""Fixtures for structured tests: a treadle loop on a MockClock (autojump), so nothing sleeps."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import pytest

from treadle.core import new_event_loop
from treadle.structured import MockClock

Runner = Callable[[Coroutine[Any, Any, Any]], Any]


@pytest.fixture
def clock() -> MockClock:
    return MockClock(autojump_threshold=0)


@pytest.fixture
def tloop(clock: MockClock) -> Iterator[asyncio.AbstractEventLoop]:
    """A treadle loop on virtual time; fails the test if its exception handler is called."""
    loop = new_event_loop(clock=clock)
    calls: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _, context: calls.append(context))
    try:
        yield loop
    finally:
        tasks = asyncio.all_tasks(loop)
        for task in tasks:
            task.cancel()
        if tasks:
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()
    if calls:
        pytest.fail(f"unexpected exception handler calls: {calls!r}")


@pytest.fixture
def trun(tloop: asyncio.AbstractEventLoop) -> Runner:
    """``trun(coro)`` runs a coroutine to completion on the test's treadle loop."""
    return tloop.run_until_complete
