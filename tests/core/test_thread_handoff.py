"""The thread hand-offs that skip concurrent.futures: run_in_executor on a thread pool, and
getaddrinfo's no-thread path for numeric hosts (core/_executor.py, core/_dns.py).

Every body runs on asyncio's loop (the oracle) and on treadle: the shortcuts must keep asyncio's
outcomes, cancellations and errors exactly.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import socket
import threading
from collections.abc import Callable
from typing import Any

import pytest

_NUMERIC_CASES: list[tuple[Any, Any, dict[str, int]]] = [
    ("127.0.0.1", 8080, {}),
    ("127.0.0.1", "8080", {"type": socket.SOCK_STREAM}),
    ("127.0.0.1", None, {"family": socket.AF_INET}),
    (b"127.0.0.1", b"53", {"type": socket.SOCK_DGRAM}),
    ("::1", 443, {"type": socket.SOCK_STREAM, "proto": socket.IPPROTO_TCP}),
    ("127.0.0.1", 0, {"flags": socket.AI_PASSIVE | socket.AI_NUMERICHOST}),
]


@pytest.mark.parametrize(("host", "port", "options"), _NUMERIC_CASES)
def test_getaddrinfo_numeric_matches_the_blocking_call(
    loop: asyncio.AbstractEventLoop,
    run: Callable[[Any], Any],
    host: Any,
    port: Any,
    options: dict[str, int],
) -> None:
    expected = socket.getaddrinfo(host, port, **options)
    assert run(loop.getaddrinfo(host, port, **options)) == expected


@pytest.mark.parametrize(
    ("host", "port", "options"),
    [
        ("127.0.0.1", 80, {"family": socket.AF_INET6}),  # address family mismatch
        ("127.0.0.1", -1, {}),  # port out of range
        ("127.0.0.1", [80], {}),  # not a port at all
        ("127.0.0.1", 80, {"type": 12345}),  # unknown socket type
    ],
)
def test_getaddrinfo_numeric_errors_match_asyncio(
    loop: asyncio.AbstractEventLoop,
    run: Callable[[Any], Any],
    host: Any,
    port: Any,
    options: dict[str, int],
) -> None:
    with pytest.raises(Exception) as blocking:  # noqa: PT011  # whatever libc says, compared below
        socket.getaddrinfo(host, port, **options)
    with pytest.raises(Exception) as got:  # noqa: PT011
        run(loop.getaddrinfo(host, port, **options))
    assert (type(got.value), str(got.value)) == (type(blocking.value), str(blocking.value))


def test_getaddrinfo_after_executor_shutdown_raises(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any]
) -> None:
    run(loop.shutdown_default_executor())
    with pytest.raises(RuntimeError, match="Executor shutdown has been called"):
        run(loop.getaddrinfo("127.0.0.1", 80))


def test_run_in_executor_cancelled_before_start_never_runs(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any]
) -> None:
    release = threading.Event()
    ran: list[str] = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        blocker = loop.run_in_executor(pool, release.wait)
        queued = loop.run_in_executor(pool, ran.append, "queued")
        queued.cancel()
        run(asyncio.sleep(0.01))  # asyncio passes the cancellation to the pool from a callback
        release.set()
        assert run(blocker) is True
    assert queued.cancelled()
    assert ran == []


def test_run_in_executor_result_after_cancel_is_dropped(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any]
) -> None:
    started = threading.Event()
    release = threading.Event()

    def work() -> str:
        started.set()
        release.wait()
        return "late"

    async def main() -> None:
        fut = loop.run_in_executor(None, work)
        await loop.run_in_executor(None, started.wait)
        fut.cancel()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await fut
        await asyncio.sleep(0.05)  # the late result arrives and must not raise InvalidStateError

    run(main())


def test_run_in_executor_work_cancelled_by_pool_cancels_the_future(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any]
) -> None:
    release = threading.Event()
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:

        async def main() -> None:
            blocker = loop.run_in_executor(pool, release.wait)
            queued = loop.run_in_executor(pool, int, "1")
            pool.shutdown(wait=False, cancel_futures=True)  # cancels the queued work item
            release.set()
            assert await blocker is True
            with pytest.raises(asyncio.CancelledError):
                await queued

        run(main())
    finally:
        release.set()
        pool.shutdown(wait=True)


def test_run_in_executor_base_exception_reaches_the_awaiter(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any]
) -> None:
    class Stop(BaseException):
        pass

    def fail() -> None:
        raise Stop

    async def main() -> None:
        with pytest.raises(Stop):
            await loop.run_in_executor(None, fail)

    run(main())


@pytest.mark.parametrize(
    ("raised", "seen"),
    [
        (concurrent.futures.CancelledError, asyncio.CancelledError),
        (concurrent.futures.InvalidStateError, asyncio.InvalidStateError),
    ],
)
def test_run_in_executor_concurrent_errors_become_asyncio_errors(
    loop: asyncio.AbstractEventLoop,
    run: Callable[[Any], Any],
    raised: type[BaseException],
    seen: type[BaseException],
) -> None:
    # asyncio's wrap_future converts these two (CPython's test_tasks
    # test_run_coroutine_threadsafe_task_cancelled depends on it), keeping the arguments.
    def fail() -> None:
        raise raised("from the worker")

    async def main() -> BaseException:
        try:
            await loop.run_in_executor(None, fail)
        except BaseException as exc:  # CancelledError is a BaseException
            return exc
        raise AssertionError("no error")

    error = run(main())
    assert type(error) is seen
    assert error.args == ("from the worker",)
