"""call_soon: order, once-only, cancellation and the contextvars Context callbacks run in.

Each body runs on asyncio's loop (the oracle) and on treadle through the ``loop`` fixture.
"""

from __future__ import annotations

import asyncio
import contextvars
import sys
from collections.abc import Callable
from typing import Any

import pytest

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="unset")


def test_call_soon_runs_callbacks_in_registration_order(loop: asyncio.AbstractEventLoop) -> None:
    order: list[int] = []
    for i in range(100):
        loop.call_soon(order.append, i)
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert order == list(range(100))


def test_call_soon_passes_positional_args(loop: asyncio.AbstractEventLoop) -> None:
    seen: list[tuple[Any, ...]] = []
    loop.call_soon(lambda *args: seen.append(args), 1, "two", None)
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert seen == [(1, "two", None)]


def test_call_soon_returns_handle(loop: asyncio.AbstractEventLoop) -> None:
    handle = loop.call_soon(lambda: None)
    assert isinstance(handle, asyncio.Handle)
    assert not isinstance(handle, asyncio.TimerHandle)
    assert not handle.cancelled()
    handle.cancel()


def test_each_callback_runs_exactly_once(loop: asyncio.AbstractEventLoop) -> None:
    calls: list[str] = []
    loop.call_soon(calls.append, "a")
    loop.call_soon(loop.stop)
    loop.run_forever()
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert calls == ["a"]


def test_callback_scheduled_by_callback_runs_in_next_iteration(
    loop: asyncio.AbstractEventLoop,
) -> None:
    # asyncio docs, loop.stop: run_forever() returns after the callbacks that were ready when the
    # iteration began; a callback added by one of them waits for the next iteration.
    order: list[str] = []

    def first() -> None:
        order.append("first")
        loop.call_soon(order.append, "child")

    loop.call_soon(first)
    loop.call_soon(order.append, "second")
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert order == ["first", "second"]
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert order == ["first", "second", "child"]


def test_cancelled_handle_is_not_run(loop: asyncio.AbstractEventLoop) -> None:
    calls: list[str] = []
    handle = loop.call_soon(calls.append, "cancelled")
    loop.call_soon(calls.append, "kept")
    handle.cancel()
    assert handle.cancelled()
    handle.cancel()  # a second cancel is a no-op
    assert handle.cancelled()
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert calls == ["kept"]


def test_callback_cancelled_by_earlier_callback_in_same_iteration_is_not_run(
    loop: asyncio.AbstractEventLoop,
) -> None:
    calls: list[str] = []
    victim: list[asyncio.Handle] = []

    def killer() -> None:
        calls.append("killer")
        victim[0].cancel()

    loop.call_soon(killer)
    victim.append(loop.call_soon(calls.append, "victim"))
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert calls == ["killer"]


def test_cancel_after_run_is_harmless(loop: asyncio.AbstractEventLoop) -> None:
    calls: list[int] = []
    handle = loop.call_soon(calls.append, 1)
    loop.call_soon(loop.stop)
    loop.run_forever()
    handle.cancel()
    assert handle.cancelled()
    assert calls == [1]


def test_callback_runs_in_copy_of_context_taken_at_schedule_time(
    loop: asyncio.AbstractEventLoop,
) -> None:
    seen: list[str] = []

    def schedule() -> None:
        request_id.set("at-schedule")
        loop.call_soon(lambda: seen.append(request_id.get()))
        request_id.set("after-schedule")

    # Run the whole thing in a throwaway context so the test's own context stays clean.
    contextvars.copy_context().run(schedule)
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert seen == ["at-schedule"]


def test_callback_changes_to_copied_context_do_not_leak(loop: asyncio.AbstractEventLoop) -> None:
    def change() -> None:
        request_id.set("changed-in-callback")

    loop.call_soon(change)
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert request_id.get() == "unset"


def test_call_soon_context_argument_is_used_and_mutated(loop: asyncio.AbstractEventLoop) -> None:
    ctx = contextvars.copy_context()
    ctx.run(request_id.set, "given")
    seen: list[str] = []

    def read_then_write() -> None:
        seen.append(request_id.get())
        request_id.set("written-by-callback")

    loop.call_soon(read_then_write, context=ctx)
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert seen == ["given"]
    # The callback ran inside ctx itself, not inside a copy of it.
    assert ctx[request_id] == "written-by-callback"
    assert request_id.get() == "unset"


def test_callbacks_sharing_a_context_see_each_others_changes(
    loop: asyncio.AbstractEventLoop,
) -> None:
    ctx = contextvars.copy_context()
    seen: list[str] = []
    loop.call_soon(request_id.set, "first", context=ctx)
    loop.call_soon(lambda: seen.append(request_id.get()), context=ctx)
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert seen == ["first"]


@pytest.mark.skipif(sys.version_info < (3, 12), reason="Handle.get_context() is new in 3.12")
def test_handle_get_context_returns_the_context(loop: asyncio.AbstractEventLoop) -> None:
    ctx = contextvars.copy_context()
    # getattr: typeshed for 3.11 (our mypy target) does not know Handle.get_context().
    handle = loop.call_soon(lambda: None, context=ctx)
    assert getattr(handle, "get_context")() is ctx  # noqa: B009
    implicit = loop.call_soon(lambda: None)
    implicit_ctx = getattr(implicit, "get_context")()  # noqa: B009
    assert isinstance(implicit_ctx, contextvars.Context)
    assert implicit_ctx is not ctx
    handle.cancel()
    implicit.cancel()


def test_call_soon_from_a_task_runs_after_the_task_step(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any]
) -> None:
    order: list[str] = []

    async def main() -> None:
        loop.call_soon(order.append, "callback")
        order.append("task continues")
        await asyncio.sleep(0)
        order.append("task resumed")

    run(main())
    assert order == ["task continues", "callback", "task resumed"]


def test_callback_sees_running_loop(loop: asyncio.AbstractEventLoop) -> None:
    seen: list[asyncio.AbstractEventLoop] = []
    loop.call_soon(lambda: seen.append(asyncio.get_running_loop()))
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert seen == [loop]


def test_exception_in_callback_does_not_stop_later_callbacks(
    loop: asyncio.AbstractEventLoop, exception_contexts: list[dict[str, Any]]
) -> None:
    calls: list[str] = []

    def boom() -> None:
        raise ZeroDivisionError("boom")

    loop.call_soon(boom)
    loop.call_soon(calls.append, "after")
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert calls == ["after"]
    assert len(exception_contexts) == 1
    assert isinstance(exception_contexts[0]["exception"], ZeroDivisionError)


def test_many_callbacks_in_one_iteration(loop: asyncio.AbstractEventLoop) -> None:
    total = 0

    def add(n: int) -> None:
        nonlocal total
        total += n

    for i in range(10_000):
        loop.call_soon(add, i)
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert total == sum(range(10_000))


def test_context_that_is_not_a_context_fails_when_the_callback_runs(
    loop: asyncio.AbstractEventLoop, exception_contexts: list[dict[str, Any]]
) -> None:
    # asyncio stores any context= and calls its run() when the callback is due; the error goes to
    # the exception handler and the loop carries on with the next callback.
    ran: list[str] = []
    loop.call_soon(ran.append, "never", context=object())  # type: ignore[arg-type]
    loop.call_soon(ran.append, "next")
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert ran == ["next"]
    assert len(exception_contexts) == 1
    error = exception_contexts[0]["exception"]
    assert type(error) is AttributeError
    assert str(error) == "'object' object has no attribute 'run'"
