"""Misuse of the loop and the exact errors asyncio raises for it: closed loops, re-entrant runs,
closing a running loop, stop() semantics, and BaseExceptions escaping from callbacks.

Each body runs on asyncio's loop (the oracle) and on treadle through the ``loop`` fixture. The
closed-loop table runs every method on a closed asyncio loop and on a closed subject loop and
compares the outcomes one by one.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

LoopFactory = Callable[[], asyncio.AbstractEventLoop]
Run = Callable[[Any], Any]
Outcome = tuple[str, object, str]


def _noop() -> None:
    pass


async def _coro() -> None:
    pass


def _outcome(call: Callable[[], object]) -> Outcome:
    try:
        result = call()
    except Exception as exc:  # the exception is the outcome being compared
        return ("raised", type(exc), str(exc))
    if result is None or isinstance(result, bool):
        return ("returned", result, "")
    return ("returned", "an object", "")


@pytest.fixture
def socketpair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


# --- closed loop -------------------------------------------------------------------------------


def _closed_loop_calls(
    ev_loop: asyncio.AbstractEventLoop, sock: socket.socket, pool: concurrent.futures.Executor
) -> dict[str, Callable[[], object]]:
    def create_task() -> object:
        coro = _coro()
        try:
            return ev_loop.create_task(coro)
        finally:
            coro.close()

    def run_until_complete_coro() -> object:
        coro = _coro()
        try:
            return ev_loop.run_until_complete(coro)
        finally:
            coro.close()

    fut = ev_loop.create_future()  # allowed on a closed loop
    return {
        "call_soon": lambda: ev_loop.call_soon(_noop),
        "call_later": lambda: ev_loop.call_later(1, _noop),
        "call_at": lambda: ev_loop.call_at(ev_loop.time() + 1, _noop),
        "call_soon_threadsafe": lambda: ev_loop.call_soon_threadsafe(_noop),
        "create_task": create_task,
        "run_forever": ev_loop.run_forever,
        "run_until_complete(coro)": run_until_complete_coro,
        "run_until_complete(future)": lambda: ev_loop.run_until_complete(fut),
        "run_in_executor(None)": lambda: ev_loop.run_in_executor(None, _noop),
        "run_in_executor(pool)": lambda: ev_loop.run_in_executor(pool, _noop),
        "add_reader": lambda: ev_loop.add_reader(sock.fileno(), _noop),
        "add_writer": lambda: ev_loop.add_writer(sock.fileno(), _noop),
        "remove_reader": lambda: ev_loop.remove_reader(sock.fileno()),
        "remove_writer": lambda: ev_loop.remove_writer(sock.fileno()),
        "add_signal_handler": lambda: ev_loop.add_signal_handler(signal.SIGUSR1, _noop),
        "remove_signal_handler": lambda: ev_loop.remove_signal_handler(signal.SIGUSR1),
        "stop": ev_loop.stop,
        "close": ev_loop.close,
        "is_running": ev_loop.is_running,
        "is_closed": ev_loop.is_closed,
        "time": ev_loop.time,
        "create_future": ev_loop.create_future,
        "get_debug": ev_loop.get_debug,
        "set_debug": lambda: ev_loop.set_debug(False),
        "set_exception_handler": lambda: ev_loop.set_exception_handler(None),
        "set_task_factory": lambda: ev_loop.set_task_factory(None),
    }


def _closed_outcomes(ev_loop: asyncio.AbstractEventLoop, sock: socket.socket) -> dict[str, Outcome]:
    ev_loop.close()
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        calls = _closed_loop_calls(ev_loop, sock, pool)
        return {name: _outcome(call) for name, call in calls.items()}


def test_closed_loop_methods_match_asyncio(
    loop: asyncio.AbstractEventLoop, socketpair: tuple[socket.socket, socket.socket]
) -> None:
    oracle = asyncio.new_event_loop()
    expected = _closed_outcomes(oracle, socketpair[0])
    got = _closed_outcomes(loop, socketpair[0])
    mismatches = {name: (got[name], want) for name, want in expected.items() if got[name] != want}
    assert mismatches == {}
    closed = ("raised", RuntimeError, "Event loop is closed")
    # What asyncio guarantees, stated plainly (the comparison above already implies it).
    for name in (
        "call_soon",
        "call_later",
        "call_at",
        "call_soon_threadsafe",
        "create_task",
        "run_forever",
        "run_until_complete(coro)",
        "run_until_complete(future)",
        "run_in_executor(None)",
        "run_in_executor(pool)",
        "add_reader",
        "add_writer",
        "add_signal_handler",
    ):
        assert got[name] == closed, name
    assert got["remove_reader"] == ("returned", False, "")
    assert got["remove_writer"] == ("returned", False, "")
    assert got["remove_signal_handler"] == ("returned", False, "")


def test_call_exception_handler_works_on_closed_loop(
    loop: asyncio.AbstractEventLoop, exception_contexts: list[dict[str, Any]]
) -> None:
    loop.close()
    loop.call_exception_handler({"message": "after close"})
    assert [c["message"] for c in exception_contexts] == ["after close"]


# --- re-entrant runs ---------------------------------------------------------------------------


_ALREADY_RUNNING = "This event loop is already running"
_OTHER_RUNNING = "Cannot run the event loop while another loop is running"


def test_run_until_complete_inside_same_loop(loop: asyncio.AbstractEventLoop, run: Run) -> None:
    async def main() -> None:
        fut = loop.create_future()
        with pytest.raises(RuntimeError) as excinfo:
            loop.run_until_complete(fut)
        assert str(excinfo.value) == _ALREADY_RUNNING
        fut.cancel()

    run(main())


def test_run_until_complete_coroutine_inside_same_loop(
    loop: asyncio.AbstractEventLoop, run: Run
) -> None:
    async def main() -> None:
        coro = _coro()
        try:
            with pytest.raises(RuntimeError) as excinfo:
                loop.run_until_complete(coro)
        finally:
            coro.close()
        assert str(excinfo.value) == _ALREADY_RUNNING

    run(main())


def test_run_forever_inside_same_loop(loop: asyncio.AbstractEventLoop, run: Run) -> None:
    async def main() -> None:
        with pytest.raises(RuntimeError) as excinfo:
            loop.run_forever()
        assert str(excinfo.value) == _ALREADY_RUNNING

    run(main())
    assert not loop.is_running()


@pytest.mark.parametrize("other_kind", ["same kind", "asyncio"])
def test_running_another_loop_inside_a_running_loop(
    loop: asyncio.AbstractEventLoop, loop_factory: LoopFactory, run: Run, other_kind: str
) -> None:
    other = loop_factory() if other_kind == "same kind" else asyncio.new_event_loop()

    async def main() -> None:
        fut = other.create_future()
        with pytest.raises(RuntimeError) as excinfo:
            other.run_until_complete(fut)
        assert str(excinfo.value) == _OTHER_RUNNING
        with pytest.raises(RuntimeError) as excinfo:
            other.run_forever()
        assert str(excinfo.value) == _OTHER_RUNNING
        fut.cancel()

    try:
        run(main())
    finally:
        other.close()


def test_subject_loop_inside_running_asyncio_loop(loop: asyncio.AbstractEventLoop) -> None:
    # The other direction: our loop must notice asyncio's running loop too.
    outer = asyncio.new_event_loop()

    async def main() -> None:
        with pytest.raises(RuntimeError) as excinfo:
            loop.run_forever()
        assert str(excinfo.value) == _OTHER_RUNNING

    try:
        outer.run_until_complete(main())
    finally:
        outer.close()


def test_asyncio_run_inside_running_loop(loop: asyncio.AbstractEventLoop, run: Run) -> None:
    async def main() -> None:
        coro = _coro()
        try:
            with pytest.raises(RuntimeError) as excinfo:
                asyncio.run(coro)
        finally:
            coro.close()
        assert str(excinfo.value) == "asyncio.run() cannot be called from a running event loop"

    run(main())


def test_run_from_another_thread_while_running(loop: asyncio.AbstractEventLoop, run: Run) -> None:
    errors: list[str] = []
    done = loop.create_future()

    def intruder() -> None:
        try:
            loop.run_forever()
        except RuntimeError as exc:
            errors.append(str(exc))
        loop.call_soon_threadsafe(done.set_result, None)

    loop.call_soon(threading.Thread(target=intruder).start)
    run(done)
    assert errors == [_ALREADY_RUNNING]


def test_close_running_loop_raises(loop: asyncio.AbstractEventLoop, run: Run) -> None:
    async def main() -> None:
        with pytest.raises(RuntimeError) as excinfo:
            loop.close()
        assert str(excinfo.value) == "Cannot close a running event loop"
        assert not loop.is_closed()

    run(main())
    assert not loop.is_closed()
    assert run(asyncio.sleep(0, "usable")) == "usable"


# --- stop() semantics --------------------------------------------------------------------------


def test_stop_before_run_forever_runs_one_iteration(loop: asyncio.AbstractEventLoop) -> None:
    calls: list[str] = []

    def parent() -> None:
        calls.append("parent")
        loop.call_soon(calls.append, "child")

    loop.call_soon(parent)
    loop.call_later(0, calls.append, "due timer")
    loop.call_later(10, calls.append, "far timer")
    loop.stop()
    loop.run_forever()
    # asyncio docs, loop.stop: called before run_forever(), the loop polls the I/O selector once
    # with a timeout of zero, runs callbacks scheduled in response to I/O events (and those already
    # scheduled), and then exits.
    assert calls == ["parent", "due timer"]
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert calls == ["parent", "due timer", "child"]


def test_stop_twice_still_one_iteration(loop: asyncio.AbstractEventLoop) -> None:
    calls: list[str] = []
    loop.call_soon(lambda: loop.call_soon(calls.append, "next iteration"))
    loop.stop()
    loop.stop()
    loop.run_forever()
    assert calls == []
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert calls == ["next iteration"]


def test_stop_from_callback_finishes_current_iteration(loop: asyncio.AbstractEventLoop) -> None:
    calls: list[str] = []
    loop.call_soon(loop.stop)
    loop.call_soon(calls.append, "same iteration")
    loop.run_forever()
    assert calls == ["same iteration"]


def test_stop_flag_resets_after_run(loop: asyncio.AbstractEventLoop) -> None:
    calls: list[str] = []
    loop.stop()
    loop.run_forever()
    # The next run is not stopped immediately: it runs until its own stop().
    loop.call_later(0.01, calls.append, "timer")
    loop.call_later(0.02, loop.stop)
    loop.run_forever()
    assert calls == ["timer"]


def test_stop_before_run_until_complete(loop: asyncio.AbstractEventLoop) -> None:
    fut = loop.create_future()
    loop.stop()
    with pytest.raises(RuntimeError) as excinfo:
        loop.run_until_complete(fut)
    assert str(excinfo.value) == "Event loop stopped before Future completed."
    loop.call_soon(fut.set_result, "later")
    assert loop.run_until_complete(fut) == "later"


# --- BaseExceptions escaping callbacks ---------------------------------------------------------


_INTERRUPTS: tuple[type[BaseException], ...] = (KeyboardInterrupt, SystemExit)


def test_base_exception_from_callback_propagates_and_loop_survives(
    loop: asyncio.AbstractEventLoop,
) -> None:
    hooks_before = sys.get_asyncgen_hooks()
    for exc_type in _INTERRUPTS:
        calls: list[str] = []

        def interrupt(exc_type: type[BaseException] = exc_type) -> None:
            raise exc_type

        loop.call_soon(interrupt)
        loop.call_soon(calls.append, "queued behind")
        with pytest.raises(exc_type):
            loop.run_forever()
        assert not loop.is_running()
        assert asyncio._get_running_loop() is None
        assert sys.get_asyncgen_hooks() == hooks_before
        assert calls == []
        # Nothing was lost: the callback queued behind the interrupt runs on the next run.
        loop.call_soon(loop.stop)
        loop.run_forever()
        assert calls == ["queued behind"]
        assert loop.run_until_complete(asyncio.sleep(0, "usable")) == "usable"


def test_base_exception_from_timer_propagates(loop: asyncio.AbstractEventLoop) -> None:
    for exc_type in _INTERRUPTS:

        def interrupt(exc_type: type[BaseException] = exc_type) -> None:
            raise exc_type

        loop.call_later(0, interrupt)
        with pytest.raises(exc_type):
            loop.run_until_complete(asyncio.sleep(0.05))
        assert not loop.is_running()
        assert loop.run_until_complete(asyncio.sleep(0, "usable")) == "usable"


def test_base_exception_from_coroutine_propagates(loop: asyncio.AbstractEventLoop) -> None:
    for exc_type in _INTERRUPTS:

        async def interrupt(exc_type: type[BaseException] = exc_type) -> None:
            await asyncio.sleep(0)
            raise exc_type

        task = loop.create_task(interrupt())
        with pytest.raises(exc_type):
            loop.run_until_complete(task)
        assert task.done()
        assert isinstance(task.exception(), exc_type)
        assert not loop.is_running()
        assert loop.run_until_complete(asyncio.sleep(0, "usable")) == "usable"


def test_base_exception_from_coroutine_passed_directly(loop: asyncio.AbstractEventLoop) -> None:
    # run_until_complete(coro) owns the task it made, so it also retrieves the task's exception:
    # no "exception was never retrieved" reaches the handler (the loop fixture checks).
    async def interrupt() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        loop.run_until_complete(interrupt())
    assert loop.run_until_complete(asyncio.sleep(0, "usable")) == "usable"
