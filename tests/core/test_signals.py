"""add_signal_handler / remove_signal_handler with real signals sent to this process.

Each body runs on asyncio's loop (the oracle) and on treadle through the ``loop`` fixture. Only
SIGUSR1, SIGUSR2 and SIGINT are used (pytest-timeout may own SIGALRM), and a signal is only sent
after checking a handler is installed, so a broken loop fails the test instead of killing pytest.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="Unix signals")

Run = Callable[[Any], Any]


@pytest.fixture(autouse=True)
def _restore_signal_state() -> Iterator[None]:
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGINT)}
    wakeup_fd = _current_wakeup_fd()
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)
    signal.set_wakeup_fd(wakeup_fd)


def _current_wakeup_fd() -> int:
    fd = signal.set_wakeup_fd(-1)
    if fd != -1:
        signal.set_wakeup_fd(fd)
    return fd


def _send(sig: int) -> None:
    # Never deliver a signal whose default action would end the test run.
    assert signal.getsignal(sig) not in (signal.SIG_DFL, None), "no handler installed"
    os.kill(os.getpid(), sig)


def test_handler_runs_later_in_the_loop_with_args(
    loop: asyncio.AbstractEventLoop, run: Run
) -> None:
    calls: list[tuple[Any, ...]] = []
    done = loop.create_future()

    def handler(*args: Any) -> None:
        calls.append(
            (
                args,
                threading.get_ident() == threading.main_thread().ident,
                asyncio.get_running_loop() is loop,
                asyncio.current_task(),
            )
        )
        done.set_result(None)

    loop.add_signal_handler(signal.SIGUSR1, handler, "a", 1)

    async def main() -> None:
        _send(signal.SIGUSR1)
        # The callback is queued on the loop, not run inside the Python-level signal handler.
        assert calls == []
        await asyncio.wait_for(done, 5)

    run(main())
    assert calls == [(("a", 1), True, True, None)]


def test_signal_wakes_loop_blocked_on_long_timer(loop: asyncio.AbstractEventLoop, run: Run) -> None:
    done = loop.create_future()
    loop.add_signal_handler(signal.SIGUSR1, done.set_result, "signalled")
    far_timer = loop.call_later(30, lambda: None)

    def sender() -> None:
        time.sleep(0.05)
        _send(signal.SIGUSR1)

    thread = threading.Thread(target=sender)
    start = time.monotonic()
    thread.start()
    try:
        assert run(done) == "signalled"
    finally:
        thread.join()
        far_timer.cancel()
    assert time.monotonic() - start < 5


def test_signal_received_while_not_running_is_handled_on_next_run(
    loop: asyncio.AbstractEventLoop, run: Run
) -> None:
    calls: list[str] = []
    loop.add_signal_handler(signal.SIGUSR2, calls.append, "late")
    _send(signal.SIGUSR2)
    assert calls == []
    run(asyncio.sleep(0.01))
    assert calls == ["late"]


def test_two_signals_two_handlers(loop: asyncio.AbstractEventLoop, run: Run) -> None:
    calls: list[str] = []
    loop.add_signal_handler(signal.SIGUSR1, calls.append, "usr1")
    loop.add_signal_handler(signal.SIGUSR2, calls.append, "usr2")

    async def main() -> None:
        _send(signal.SIGUSR1)
        _send(signal.SIGUSR2)
        for _ in range(50):
            if len(calls) == 2:
                break
            await asyncio.sleep(0.01)

    run(main())
    assert sorted(calls) == ["usr1", "usr2"]


def test_adding_again_replaces_handler(loop: asyncio.AbstractEventLoop, run: Run) -> None:
    calls: list[str] = []
    loop.add_signal_handler(signal.SIGUSR1, calls.append, "first")
    loop.add_signal_handler(signal.SIGUSR1, calls.append, "second")
    _send(signal.SIGUSR1)
    run(asyncio.sleep(0.01))
    assert calls == ["second"]


def test_remove_returns_true_then_false_and_restores_default(
    loop: asyncio.AbstractEventLoop,
) -> None:
    loop.add_signal_handler(signal.SIGUSR1, lambda: None)
    assert signal.getsignal(signal.SIGUSR1) not in (signal.SIG_DFL, signal.SIG_IGN)
    assert loop.remove_signal_handler(signal.SIGUSR1) is True
    assert signal.getsignal(signal.SIGUSR1) is signal.SIG_DFL
    assert loop.remove_signal_handler(signal.SIGUSR1) is False


def test_remove_without_handler_returns_false(loop: asyncio.AbstractEventLoop) -> None:
    assert loop.remove_signal_handler(signal.SIGUSR2) is False


def test_removing_sigint_restores_default_int_handler(loop: asyncio.AbstractEventLoop) -> None:
    loop.add_signal_handler(signal.SIGINT, lambda: None)
    assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    assert loop.remove_signal_handler(signal.SIGINT) is True
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_last_removal_clears_wakeup_fd(loop: asyncio.AbstractEventLoop) -> None:
    before = _current_wakeup_fd()
    loop.add_signal_handler(signal.SIGUSR1, lambda: None)
    loop.add_signal_handler(signal.SIGUSR2, lambda: None)
    assert _current_wakeup_fd() != -1
    loop.remove_signal_handler(signal.SIGUSR1)
    assert _current_wakeup_fd() != -1
    loop.remove_signal_handler(signal.SIGUSR2)
    assert _current_wakeup_fd() == -1
    signal.set_wakeup_fd(before)


def test_close_removes_signal_handlers(
    loop_factory: Callable[[], asyncio.AbstractEventLoop],
) -> None:
    ev_loop = loop_factory()
    try:
        ev_loop.add_signal_handler(signal.SIGUSR1, lambda: None)
        ev_loop.add_signal_handler(signal.SIGINT, lambda: None)
    finally:
        ev_loop.close()
    assert signal.getsignal(signal.SIGUSR1) is signal.SIG_DFL
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert _current_wakeup_fd() == -1


_INVALID_SIGNALS: list[tuple[object, type[Exception], str]] = [
    ("SIGUSR1", TypeError, "sig must be an int, not 'SIGUSR1'"),
    (1.0, TypeError, "sig must be an int, not 1.0"),
    (None, TypeError, "sig must be an int, not None"),
    (0, ValueError, "invalid signal number 0"),
    (-1, ValueError, "invalid signal number -1"),
    (10_000, ValueError, "invalid signal number 10000"),
]


def test_invalid_signal(loop: asyncio.AbstractEventLoop) -> None:
    # One test walks every case (they are cheap) and reports all mismatches at once.
    mismatches = []
    for sig, exc_type, message in _INVALID_SIGNALS:
        for method, args in (
            (loop.add_signal_handler, (sig, lambda: None)),
            (loop.remove_signal_handler, (sig,)),
        ):
            try:
                method(*args)
            except Exception as exc:  # compared below, whatever it is
                got: tuple[object, str] = (type(exc), str(exc))
            else:
                got = (None, "no exception")
            if got != (exc_type, message):
                mismatches.append((method.__name__, sig, got))
    assert mismatches == []


def test_uncatchable_signal(loop: asyncio.AbstractEventLoop) -> None:
    for sig in (signal.SIGKILL, signal.SIGSTOP):
        with pytest.raises(RuntimeError) as excinfo:
            loop.add_signal_handler(sig, lambda: None)
        assert str(excinfo.value) == f"sig {int(sig)} cannot be caught"
        # Nothing half-registered is left behind.
        assert loop.remove_signal_handler(sig) is False
        assert _current_wakeup_fd() == -1


async def _coro_handler() -> None:
    pass


def test_coroutine_function_handler_rejected(loop: asyncio.AbstractEventLoop) -> None:
    with pytest.raises(TypeError) as excinfo:
        loop.add_signal_handler(signal.SIGUSR1, _coro_handler)
    assert str(excinfo.value) == "coroutines cannot be used with add_signal_handler()"
    assert signal.getsignal(signal.SIGUSR1) is signal.SIG_DFL


def test_coroutine_object_handler_rejected(loop: asyncio.AbstractEventLoop) -> None:
    coro = _coro_handler()
    try:
        with pytest.raises(TypeError) as excinfo:
            loop.add_signal_handler(signal.SIGUSR1, coro)  # type: ignore[arg-type]
    finally:
        coro.close()
    assert str(excinfo.value) == "coroutines cannot be used with add_signal_handler()"


def test_coroutine_check_comes_before_signal_check(loop: asyncio.AbstractEventLoop) -> None:
    with pytest.raises(TypeError) as excinfo:
        loop.add_signal_handler("bad", _coro_handler)  # type: ignore[arg-type]
    assert str(excinfo.value) == "coroutines cannot be used with add_signal_handler()"


def test_add_on_closed_loop(loop_factory: Callable[[], asyncio.AbstractEventLoop]) -> None:
    ev_loop = loop_factory()
    ev_loop.close()
    with pytest.raises(RuntimeError) as excinfo:
        ev_loop.add_signal_handler(signal.SIGUSR1, lambda: None)
    assert str(excinfo.value) == "Event loop is closed"
    # The signal number is checked before the closed state.
    with pytest.raises(ValueError, match="invalid signal number 0"):
        ev_loop.add_signal_handler(0, lambda: None)
    assert ev_loop.remove_signal_handler(signal.SIGUSR1) is False


def _add_from_thread(ev_loop: asyncio.AbstractEventLoop) -> BaseException | None:
    outcome: list[BaseException | None] = []

    def body() -> None:
        try:
            ev_loop.add_signal_handler(signal.SIGUSR1, lambda: None)
        except BaseException as exc:  # report whatever it was to the main thread
            outcome.append(exc)
        else:
            outcome.append(None)

    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    return outcome[0]


def test_add_outside_main_thread_raises_runtime_error(loop: asyncio.AbstractEventLoop) -> None:
    oracle = asyncio.new_event_loop()
    try:
        expected = _add_from_thread(oracle)
    finally:
        oracle.close()
    got = _add_from_thread(loop)
    assert isinstance(expected, RuntimeError)
    assert type(got) is RuntimeError
    assert str(got) == str(expected)
    assert signal.getsignal(signal.SIGUSR1) is signal.SIG_DFL


def test_handler_exception_goes_to_exception_handler(
    loop: asyncio.AbstractEventLoop, run: Run, exception_contexts: list[dict[str, Any]]
) -> None:
    def handler() -> None:
        raise LookupError("in signal handler")

    loop.add_signal_handler(signal.SIGUSR1, handler)
    _send(signal.SIGUSR1)
    run(asyncio.sleep(0.01))
    [context] = exception_contexts
    assert isinstance(context["exception"], LookupError)
    assert isinstance(context["handle"], asyncio.Handle)
    assert context["message"].startswith("Exception in callback ")
