"""Debug mode: how it is switched on, and what it adds (slow-callback warnings, thread checks,
callback checks, creation tracebacks), plus the ResourceWarning for a loop never closed.

Each body runs on asyncio's loop (the oracle) and on treadle through the ``loop`` fixture; where a
log line must match word for word, the test runs the same scenario on an asyncio loop and compares.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

LoopFactory = Callable[[], asyncio.AbstractEventLoop]

# Builds a loop of the requested kind in a fresh interpreter and prints its debug flag.
_PRINT_DEBUG = """
import sys
kind = sys.argv[1]
if kind == "asyncio":
    import asyncio
    loop = asyncio.new_event_loop()
else:
    from treadle.core import new_event_loop
    loop = new_event_loop(poller=kind.removeprefix("treadle-"))
print(loop.get_debug())
loop.close()
"""


def _start_debug_probe(
    loop_kind: str, flags: list[str], env_debug: str | None
) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONASYNCIODEBUG", "PYTHONDEVMODE")}
    if env_debug is not None:
        env["PYTHONASYNCIODEBUG"] = env_debug
    return subprocess.Popen(
        [sys.executable, *flags, "-c", _PRINT_DEBUG, loop_kind],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _run_briefly(ev_loop: asyncio.AbstractEventLoop) -> None:
    ev_loop.call_soon(ev_loop.stop)
    ev_loop.run_forever()


# --- switching debug mode ----------------------------------------------------------------------


def test_new_loop_debug_follows_environment(loop: asyncio.AbstractEventLoop) -> None:
    expected = sys.flags.dev_mode or (
        not sys.flags.ignore_environment and bool(os.environ.get("PYTHONASYNCIODEBUG"))
    )
    assert loop.get_debug() is expected


def test_set_debug_and_get_debug(loop: asyncio.AbstractEventLoop) -> None:
    loop.set_debug(True)
    assert loop.get_debug() is True
    loop.set_debug(False)
    assert loop.get_debug() is False


_DEBUG_SWITCHES: list[tuple[str, list[str], str | None, str]] = [
    ("PYTHONASYNCIODEBUG=1", [], "1", "True"),
    ("-X dev", ["-X", "dev"], None, "True"),
    ("-E ignores PYTHONASYNCIODEBUG", ["-E"], "1", "False"),
    ("empty PYTHONASYNCIODEBUG", [], "", "False"),
]


def test_debug_mode_from_interpreter_flags(loop_kind: str) -> None:
    if loop_kind.startswith("treadle-") and loop_kind != "treadle-select":
        pytest.skip("the debug flag does not depend on the poller; treadle-select covers it")
    # The interpreters start side by side: startup dominates, and they do not interfere.
    probes = [
        (label, expected, _start_debug_probe(loop_kind, flags, env_debug))
        for label, flags, env_debug, expected in _DEBUG_SWITCHES
    ]
    results = {}
    for label, expected, proc in probes:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        results[label] = (out.strip(), expected)
    assert {label: got for label, (got, _) in results.items()} == {
        label: expected for label, (_, expected) in results.items()
    }


# --- slow callbacks ----------------------------------------------------------------------------


def _slow_callback(ev_loop: asyncio.AbstractEventLoop) -> None:
    ev_loop.set_debug(True)
    ev_loop.slow_callback_duration = 0.05
    ev_loop.call_soon(time.sleep, 0.1)
    _run_briefly(ev_loop)


async def _blocking_step() -> None:
    time.sleep(0.1)  # noqa: ASYNC251 - blocking the loop is the point: a slow task step
    await asyncio.sleep(0)


def _slow_task_step(ev_loop: asyncio.AbstractEventLoop) -> None:
    ev_loop.set_debug(True)
    ev_loop.slow_callback_duration = 0.05
    task = ev_loop.create_task(_blocking_step())
    ev_loop.run_until_complete(task)


def _slow_warnings(
    ev_loop: asyncio.AbstractEventLoop,
    scenario: Callable[[asyncio.AbstractEventLoop], None],
    caplog: pytest.LogCaptureFixture,
) -> list[tuple[str, str, str]]:
    caplog.clear()
    scenario(ev_loop)
    out = []
    for record in caplog.records:
        if record.levelno < logging.WARNING:
            continue
        text = re.sub(r"0x[0-9a-f]+", "0x?", record.getMessage())
        text = re.sub(r"Task-\d+", "Task-?", text)
        # A task's done callbacks are the loop's own (run_until_complete's), not behaviour.
        text = re.sub(r" cb=\[.*?\]", "", text)
        out.append((record.name, record.levelname, re.sub(r"took \d+\.\d{3} ", "took ? ", text)))
    caplog.clear()
    return out


@pytest.mark.parametrize("scenario", [_slow_callback, _slow_task_step], ids=["callback", "task"])
def test_slow_callback_warning_matches_asyncio(
    loop: asyncio.AbstractEventLoop,
    caplog: pytest.LogCaptureFixture,
    scenario: Callable[[asyncio.AbstractEventLoop], None],
) -> None:
    oracle = asyncio.new_event_loop()
    try:
        expected = _slow_warnings(oracle, scenario, caplog)
    finally:
        oracle.close()
    got = _slow_warnings(loop, scenario, caplog)
    assert got == expected
    assert len(got) == 1
    name, level, message = got[0]
    assert (name, level) == ("asyncio", "WARNING")
    assert re.fullmatch(r"Executing <.*> took \? seconds", message, re.DOTALL)


def test_slow_callback_message_has_duration(
    loop: asyncio.AbstractEventLoop, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.clear()
    _slow_callback(loop)
    [record] = [r for r in caplog.records if r.levelno == logging.WARNING]
    match = re.fullmatch(
        r"Executing <Handle sleep\(0\.1\) created at (.+):(\d+)> took (\d+\.\d{3}) seconds",
        record.getMessage(),
    )
    assert match, record.getMessage()
    assert match.group(1) == __file__
    assert float(match.group(3)) >= 0.09


def test_no_slow_callback_warning_outside_debug_mode(
    loop: asyncio.AbstractEventLoop, caplog: pytest.LogCaptureFixture
) -> None:
    loop.set_debug(False)
    loop.slow_callback_duration = 0.01
    caplog.clear()
    loop.call_soon(time.sleep, 0.03)
    _run_briefly(loop)
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_slow_callback_duration_default(loop: asyncio.AbstractEventLoop) -> None:
    assert loop.slow_callback_duration == 0.1


# --- thread checks -----------------------------------------------------------------------------


_NOT_THREADSAFE = "Non-thread-safe operation invoked on an event loop other than the current one"


def test_non_threadsafe_call_from_other_thread_raises_in_debug(
    loop: asyncio.AbstractEventLoop,
) -> None:
    loop.set_debug(True)
    errors: dict[str, str] = {}
    done = loop.create_future()
    attempts: dict[str, Callable[[], asyncio.Handle]] = {
        "call_soon": lambda: loop.call_soon(lambda: None),
        "call_later": lambda: loop.call_later(0, lambda: None),
        "call_at": lambda: loop.call_at(loop.time(), lambda: None),
    }

    def intruder() -> None:
        for name, attempt in attempts.items():
            try:
                attempt().cancel()
            except RuntimeError as exc:
                errors[name] = str(exc)
            else:
                errors[name] = "no error"
        loop.call_soon_threadsafe(done.set_result, None)

    thread = threading.Thread(target=intruder)
    loop.call_soon(thread.start)
    try:
        loop.run_until_complete(done)
    finally:
        thread.join()
    assert errors == dict.fromkeys(attempts, _NOT_THREADSAFE)


def test_call_soon_from_other_thread_allowed_while_loop_not_running(
    loop: asyncio.AbstractEventLoop,
) -> None:
    loop.set_debug(True)
    errors: list[BaseException] = []
    handles: list[asyncio.Handle] = []

    def outsider() -> None:
        try:
            handles.append(loop.call_soon(lambda: None))
        except RuntimeError as exc:
            errors.append(exc)

    thread = threading.Thread(target=outsider)
    thread.start()
    thread.join()
    assert errors == []
    handles[0].cancel()


def test_threadsafe_call_from_other_thread_fine_in_debug(
    loop: asyncio.AbstractEventLoop,
) -> None:
    loop.set_debug(True)
    done = loop.create_future()
    loop.call_soon(
        threading.Thread(target=lambda: loop.call_soon_threadsafe(done.set_result, 1)).start
    )
    assert loop.run_until_complete(done) == 1


# --- callback checks in debug mode -------------------------------------------------------------


async def _coro_fn() -> None:
    pass


def _schedule(ev_loop: asyncio.AbstractEventLoop, method: str, callback: Any) -> asyncio.Handle:
    if method == "call_soon":
        return ev_loop.call_soon(callback)
    if method == "call_soon_threadsafe":
        return ev_loop.call_soon_threadsafe(callback)
    if method == "call_later":
        return ev_loop.call_later(10, callback)
    return ev_loop.call_at(ev_loop.time() + 10, callback)


_SCHEDULERS = ["call_soon", "call_soon_threadsafe", "call_later", "call_at"]


def test_debug_rejects_coroutine_functions_and_non_callables(
    loop: asyncio.AbstractEventLoop,
) -> None:
    loop.set_debug(True)
    got = {}
    expected = {}
    for method in _SCHEDULERS:
        # call_later reports itself as call_at: asyncio checks in call_at, which call_later uses.
        name = "call_at" if method == "call_later" else method
        for label, callback, message in (
            ("coroutine function", _coro_fn, f"coroutines cannot be used with {name}()"),
            ("int", 42, f"a callable object was expected by {name}(), got 42"),
        ):
            try:
                _schedule(loop, method, callback).cancel()
            except TypeError as exc:
                got[method, label] = str(exc)
            else:
                got[method, label] = "accepted"
            expected[method, label] = message
    assert got == expected


def test_non_debug_accepts_non_callable_until_run(
    loop: asyncio.AbstractEventLoop, exception_contexts: list[dict[str, Any]]
) -> None:
    loop.set_debug(False)
    loop.call_soon(42)  # type: ignore[arg-type]
    _run_briefly(loop)
    [context] = exception_contexts
    assert isinstance(context["exception"], TypeError)
    assert context["message"].startswith("Exception in callback 42")


# --- creation tracebacks -----------------------------------------------------------------------


def _raise() -> None:
    raise ZeroDivisionError


def test_debug_context_has_source_traceback(
    loop: asyncio.AbstractEventLoop, exception_contexts: list[dict[str, Any]]
) -> None:
    loop.set_debug(True)
    here = sys._getframe().f_lineno + 1
    loop.call_soon(_raise)
    _run_briefly(loop)
    [context] = exception_contexts
    assert set(context) == {"message", "exception", "handle", "source_traceback"}
    last = context["source_traceback"][-1]
    assert (last.filename, last.lineno) == (__file__, here)


def test_no_source_traceback_outside_debug(
    loop: asyncio.AbstractEventLoop, exception_contexts: list[dict[str, Any]]
) -> None:
    loop.set_debug(False)
    loop.call_soon(_raise)
    _run_briefly(loop)
    [context] = exception_contexts
    assert "source_traceback" not in context


def test_debug_tracks_coroutine_origin_while_running(
    loop: asyncio.AbstractEventLoop,
) -> None:
    async def depth() -> int:
        return sys.get_coroutine_origin_tracking_depth()

    before = sys.get_coroutine_origin_tracking_depth()
    loop.set_debug(True)
    assert loop.run_until_complete(depth()) == 10  # asyncio's DEBUG_STACK_DEPTH
    assert sys.get_coroutine_origin_tracking_depth() == before
    loop.set_debug(False)
    assert loop.run_until_complete(depth()) == before


# --- unclosed loop -----------------------------------------------------------------------------


def _drop_and_collect(holder: list[asyncio.AbstractEventLoop]) -> None:
    holder.clear()
    gc.collect()


def test_unclosed_loop_warns_resource_warning(loop_factory: LoopFactory) -> None:
    holder = [loop_factory()]
    with pytest.warns(ResourceWarning) as record:
        _drop_and_collect(holder)
    messages = [str(w.message) for w in record if issubclass(w.category, ResourceWarning)]
    assert len(messages) == 1
    assert re.fullmatch(
        r"unclosed event loop <\w+ running=False closed=False debug=(True|False)>", messages[0]
    )


def test_closed_loop_does_not_warn(loop_factory: LoopFactory) -> None:
    ev_loop = loop_factory()
    ev_loop.close()
    del ev_loop
    gc.collect()  # filterwarnings=error turns any ResourceWarning here into a failure
