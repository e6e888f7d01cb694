"""The loop's exception handler: which context keys arrive for each kind of failure, and what the
default handler logs.

Bodies run on the ``loop`` fixture (asyncio's loop, then treadle's). Where the exact text matters
(messages built from reprs, the default handler's log lines), the test runs the same scenario on a
fresh asyncio loop in the same test and compares, with object addresses and task numbers masked.
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import logging
import re
import sys
from collections.abc import Callable
from typing import Any

import pytest

Scenario = Callable[[asyncio.AbstractEventLoop], None]
Context = dict[str, Any]

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="unset")


def _mask(text: str) -> str:
    text = re.sub(r"0x[0-9a-fA-F]+", "0x?", text)
    text = re.sub(r"when=[-+\w.]+", "when=?", text)
    return re.sub(r"Task-\d+", "Task-?", text)


def _run_briefly(ev_loop: asyncio.AbstractEventLoop) -> None:
    ev_loop.call_soon(ev_loop.stop)
    ev_loop.run_forever()


def _contexts_on(ev_loop: asyncio.AbstractEventLoop, scenario: Scenario) -> list[Context]:
    seen: list[Context] = []
    ev_loop.set_exception_handler(lambda _, context: seen.append(context))
    scenario(ev_loop)
    return seen


def _summary(contexts: list[Context]) -> list[tuple[list[str], str, str | None, str]]:
    """What must agree between loops: keys, message, and the exception's type and text."""
    out = []
    for context in contexts:
        exc = context.get("exception")
        out.append(
            (
                sorted(context),
                _mask(str(context.get("message"))),
                None if exc is None else type(exc).__name__,
                _mask(str(exc)),
            )
        )
    return out


def _compare_with_oracle(loop: asyncio.AbstractEventLoop, scenario: Scenario) -> list[Context]:
    oracle = asyncio.new_event_loop()
    try:
        expected = _summary(_contexts_on(oracle, scenario))
    finally:
        oracle.close()
    contexts = _contexts_on(loop, scenario)
    assert _summary(contexts) == expected
    return contexts


def _log_on(
    ev_loop: asyncio.AbstractEventLoop, scenario: Scenario, caplog: pytest.LogCaptureFixture
) -> list[tuple[str, str, str, str | None, str]]:
    """Run the scenario under the default handler; return what it logged to the asyncio logger."""
    caplog.clear()
    ev_loop.set_exception_handler(None)
    scenario(ev_loop)
    out = []
    for record in caplog.records:
        exc = record.exc_info[1] if record.exc_info else None
        out.append(
            (
                record.name,
                record.levelname,
                _mask(record.getMessage()),
                None if exc is None else type(exc).__name__,
                _mask(str(exc)),
            )
        )
    caplog.clear()
    return out


def _compare_logs_with_oracle(
    loop: asyncio.AbstractEventLoop, scenario: Scenario, caplog: pytest.LogCaptureFixture
) -> list[tuple[str, str, str, str | None, str]]:
    oracle = asyncio.new_event_loop()
    try:
        expected = _log_on(oracle, scenario, caplog)
    finally:
        oracle.close()
    got = _log_on(loop, scenario, caplog)
    assert got == expected
    assert got, "the scenario logged nothing"
    return got


# --- scenarios ---------------------------------------------------------------------------------


def _boom(*args: object) -> None:
    raise ZeroDivisionError(f"boom {args!r}")


def _callback_raises(ev_loop: asyncio.AbstractEventLoop) -> None:
    ev_loop.call_soon(_boom, 1, "two")
    _run_briefly(ev_loop)


def _timer_raises(ev_loop: asyncio.AbstractEventLoop) -> None:
    ev_loop.call_later(0, _boom, "timer")
    ev_loop.run_until_complete(asyncio.sleep(0.01))


async def _fail() -> None:
    raise ValueError("task failed")


def _task_exception_never_retrieved(ev_loop: asyncio.AbstractEventLoop) -> None:
    task = ev_loop.create_task(_fail())
    ev_loop.run_until_complete(asyncio.wait([task]))
    del task
    gc.collect()  # asyncio reports this when the task is collected


def _future_exception_never_retrieved(ev_loop: asyncio.AbstractEventLoop) -> None:
    fut = ev_loop.create_future()
    fut.set_exception(KeyError("lost"))
    del fut
    gc.collect()


async def _wait_forever() -> None:
    await asyncio.get_running_loop().create_future()


def _task_destroyed_pending(ev_loop: asyncio.AbstractEventLoop) -> None:
    task = ev_loop.create_task(_wait_forever())
    _run_briefly(ev_loop)
    ev_loop.close()
    del task
    gc.collect()


def _explicit_call(ev_loop: asyncio.AbstractEventLoop) -> None:
    ev_loop.call_exception_handler({"message": "explicit", "exception": OSError(5, "io")})


def _message_only(ev_loop: asyncio.AbstractEventLoop) -> None:
    ev_loop.call_exception_handler({"message": "just words", "extra": [1, 2]})


def _no_message(ev_loop: asyncio.AbstractEventLoop) -> None:
    ev_loop.call_exception_handler({"exception": RuntimeError("no message key")})


# --- context keys ------------------------------------------------------------------------------


def test_callback_exception_context(loop: asyncio.AbstractEventLoop) -> None:
    contexts = _compare_with_oracle(loop, _callback_raises)
    [context] = contexts
    assert set(context) == {"message", "exception", "handle"}
    assert isinstance(context["handle"], asyncio.Handle)
    assert context["message"].startswith("Exception in callback ")
    assert isinstance(context["exception"], ZeroDivisionError)


def test_timer_callback_exception_context(loop: asyncio.AbstractEventLoop) -> None:
    [context] = _compare_with_oracle(loop, _timer_raises)
    assert set(context) == {"message", "exception", "handle"}
    assert isinstance(context["handle"], asyncio.TimerHandle)


def test_handle_in_context_is_the_scheduled_handle(
    loop: asyncio.AbstractEventLoop, exception_contexts: list[Context]
) -> None:
    handle = loop.call_soon(_boom)
    _run_briefly(loop)
    assert [c["handle"] for c in exception_contexts] == [handle]


def test_task_exception_never_retrieved_context(loop: asyncio.AbstractEventLoop) -> None:
    [context] = _compare_with_oracle(loop, _task_exception_never_retrieved)
    assert set(context) == {"message", "exception", "future"}
    assert context["message"] == "Task exception was never retrieved"
    assert isinstance(context["future"], asyncio.Task)


def test_future_exception_never_retrieved_context(loop: asyncio.AbstractEventLoop) -> None:
    [context] = _compare_with_oracle(loop, _future_exception_never_retrieved)
    assert set(context) == {"message", "exception", "future"}
    assert context["message"] == "Future exception was never retrieved"


def test_task_destroyed_pending_context(
    loop_factory: Callable[[], asyncio.AbstractEventLoop],
) -> None:
    oracle = asyncio.new_event_loop()
    expected = _summary(_contexts_on(oracle, _task_destroyed_pending))
    subject = loop_factory()
    contexts = _contexts_on(subject, _task_destroyed_pending)
    assert _summary(contexts) == expected
    [context] = contexts
    assert set(context) == {"message", "task"}
    assert context["message"] == "Task was destroyed but it is pending!"


def test_call_exception_handler_passes_context_through(
    loop: asyncio.AbstractEventLoop, exception_contexts: list[Context]
) -> None:
    context: Context = {"message": "custom", "anything": object()}
    loop.call_exception_handler(context)
    assert exception_contexts == [context]


def test_exception_handler_receives_the_loop(loop: asyncio.AbstractEventLoop) -> None:
    seen: list[object] = []
    loop.set_exception_handler(lambda ev_loop, _: seen.append(ev_loop))
    loop.call_exception_handler({"message": "x"})
    assert seen == [loop]


# --- set/get -----------------------------------------------------------------------------------


def test_default_exception_handler_is_none(
    loop_factory: Callable[[], asyncio.AbstractEventLoop],
) -> None:
    ev_loop = loop_factory()
    try:
        assert ev_loop.get_exception_handler() is None
    finally:
        ev_loop.close()


def test_set_and_get_exception_handler(loop: asyncio.AbstractEventLoop) -> None:
    def handler(ev_loop: asyncio.AbstractEventLoop, context: Context) -> None:
        pass

    loop.set_exception_handler(handler)
    assert loop.get_exception_handler() is handler
    loop.set_exception_handler(None)
    assert loop.get_exception_handler() is None


def test_set_exception_handler_rejects_non_callable(loop: asyncio.AbstractEventLoop) -> None:
    before = loop.get_exception_handler()
    for bad in (1, "handler", object()):
        with pytest.raises(TypeError) as excinfo:
            loop.set_exception_handler(bad)  # type: ignore[arg-type]
        assert str(excinfo.value) == f"A callable object or None is expected, got {bad!r}"
        assert loop.get_exception_handler() is before


# --- default handler logging ------------------------------------------------------------------


_LOGGED_SCENARIOS = [
    _callback_raises,
    _timer_raises,
    _task_exception_never_retrieved,
    _future_exception_never_retrieved,
    _explicit_call,
    _message_only,
    _no_message,
]


def test_default_handler_log_matches_asyncio(
    loop: asyncio.AbstractEventLoop, caplog: pytest.LogCaptureFixture
) -> None:
    # One test walks every scenario and reports each mismatch, rather than one test per scenario.
    mismatches = {}
    for scenario in _LOGGED_SCENARIOS:
        oracle = asyncio.new_event_loop()
        try:
            expected = _log_on(oracle, scenario, caplog)
        finally:
            oracle.close()
        got = _log_on(loop, scenario, caplog)
        assert expected, f"{scenario.__name__} logged nothing on asyncio"
        if got != expected:
            mismatches[scenario.__name__] = (got, expected)
        for name, level, _, _, _ in got:
            # asyncio docs: all of asyncio's logging goes to the "asyncio" logger.
            assert (name, level) == ("asyncio", "ERROR")
    assert mismatches == {}


def test_default_handler_log_text_for_message_only(
    loop: asyncio.AbstractEventLoop, caplog: pytest.LogCaptureFixture
) -> None:
    [(_, _, message, exc_type, _)] = _log_on(loop, _message_only, caplog)
    assert message == "just words\nextra: [1, 2]"
    assert exc_type is None


def test_default_handler_without_message_uses_generic_one(
    loop: asyncio.AbstractEventLoop, caplog: pytest.LogCaptureFixture
) -> None:
    [(_, _, message, exc_type, _)] = _log_on(loop, _no_message, caplog)
    assert message == "Unhandled exception in event loop"
    assert exc_type == "RuntimeError"


def test_default_exception_handler_can_be_called_directly(
    loop: asyncio.AbstractEventLoop, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.clear()
    loop.default_exception_handler({"message": "direct", "exception": LookupError("k")})
    [record] = caplog.records
    assert record.getMessage() == "direct"
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], LookupError)


def test_task_destroyed_pending_log_matches_asyncio(
    loop_factory: Callable[[], asyncio.AbstractEventLoop], caplog: pytest.LogCaptureFixture
) -> None:
    oracle = asyncio.new_event_loop()
    expected = _log_on(oracle, _task_destroyed_pending, caplog)
    subject = loop_factory()
    assert _log_on(subject, _task_destroyed_pending, caplog) == expected
    assert expected


# --- custom handler failures -------------------------------------------------------------------


def _raising_handler(ev_loop: asyncio.AbstractEventLoop, context: Context) -> None:
    raise RuntimeError("handler is broken")


def _handler_raises(ev_loop: asyncio.AbstractEventLoop) -> None:
    ev_loop.set_exception_handler(_raising_handler)
    _callback_raises(ev_loop)


def _handler_raises_on_explicit_call(ev_loop: asyncio.AbstractEventLoop) -> None:
    ev_loop.set_exception_handler(_raising_handler)
    _message_only(ev_loop)


def test_custom_handler_raising_falls_back_to_default_log(
    loop: asyncio.AbstractEventLoop, caplog: pytest.LogCaptureFixture
) -> None:
    for scenario in (_handler_raises, _handler_raises_on_explicit_call):
        logged = _compare_logs_with_oracle(loop, scenario, caplog)
        [(name, level, message, exc_type, exc_text)] = logged
        assert (name, level) == ("asyncio", "ERROR")
        assert message.startswith("Unhandled error in exception handler\ncontext: {")
        assert (exc_type, exc_text) == ("RuntimeError", "handler is broken")


def test_custom_handler_raising_does_not_stop_the_loop(
    loop: asyncio.AbstractEventLoop, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[str] = []
    loop.set_exception_handler(_raising_handler)
    loop.call_soon(_boom)
    loop.call_soon(calls.append, "after")
    _run_briefly(loop)
    assert calls == ["after"]


def test_custom_handler_base_exception_propagates(loop: asyncio.AbstractEventLoop) -> None:
    for exc_type in (KeyboardInterrupt, SystemExit):

        def handler(ev_loop: asyncio.AbstractEventLoop, context: Context) -> None:
            raise exc_type  # noqa: B023 - called before the loop variable moves on

        loop.set_exception_handler(handler)
        with pytest.raises(exc_type):
            loop.call_exception_handler({"message": "x"})
        loop.call_soon(_boom)
        with pytest.raises(exc_type):
            _run_briefly(loop)
        assert not loop.is_running()
        loop.set_exception_handler(None)
        # The stop() queued by _run_briefly is still pending; drain it so the loop is idle again.
        _run_briefly(loop)


# --- the context the handler runs in -----------------------------------------------------------


def test_custom_handler_runs_in_failing_callbacks_context(loop: asyncio.AbstractEventLoop) -> None:
    # 3.12 runs a custom handler inside the context of the task/future/handle that failed;
    # 3.11 runs it wherever the failure was noticed.
    seen: list[str] = []
    loop.set_exception_handler(lambda _, context: seen.append(request_id.get()))
    ctx = contextvars.copy_context()
    ctx.run(request_id.set, "callback-ctx")
    loop.call_soon(_boom, context=ctx)
    _run_briefly(loop)
    assert seen == (["callback-ctx"] if sys.version_info >= (3, 12) else ["unset"])


def test_custom_handler_runs_in_failing_tasks_context(loop: asyncio.AbstractEventLoop) -> None:
    seen: list[str] = []
    loop.set_exception_handler(lambda _, context: seen.append(request_id.get()))
    ctx = contextvars.copy_context()
    ctx.run(request_id.set, "task-ctx")
    task = loop.create_task(_fail(), context=ctx)
    loop.run_until_complete(asyncio.wait([task]))
    del task
    gc.collect()
    assert seen == (["task-ctx"] if sys.version_info >= (3, 12) else ["unset"])


def test_default_handler_is_not_affected_by_logging_level(
    loop: asyncio.AbstractEventLoop, caplog: pytest.LogCaptureFixture
) -> None:
    # Errors go out at ERROR level, so a WARNING threshold on the asyncio logger still shows them.
    caplog.set_level(logging.WARNING, logger="asyncio")
    logged = _log_on(loop, _callback_raises, caplog)
    assert [level for _, level, _, _, _ in logged] == ["ERROR"]
