"""nursery.start / start_soon as a Trio or AnyIO user expects them.

Each scenario runs on Trio, on AnyIO (its asyncio backend) and on treadle, through the same small
adapter, and the outcomes are compared: Trio and AnyIO are the oracles here, the way asyncio's
own loop is for the loop tests.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Generic, TypeVar

import anyio
import pytest
import trio
import trio.lowlevel
import trio.testing

import treadle
from treadle import structured
from treadle.structured import TASK_STATUS_IGNORED, TaskStatus, open_nursery

_T = TypeVar("_T")


class Flavour(Generic[_T]):
    """How to run a program and open a nursery in one library."""

    def __init__(
        self,
        run: Callable[[Callable[[], Awaitable[Any]]], Any],
        group: Callable[[], AbstractAsyncContextManager[Any]],
        ignored: Any,
    ) -> None:
        self.run = run
        self.group = group
        self.ignored = ignored  # the library's TASK_STATUS_IGNORED


@asynccontextmanager
async def _anyio_group() -> AsyncIterator[Any]:
    async with anyio.create_task_group() as group:
        yield group


FLAVOURS: dict[str, Flavour[Any]] = {
    "trio": Flavour(trio.run, trio.open_nursery, trio.TASK_STATUS_IGNORED),
    "anyio": Flavour(anyio.run, _anyio_group, anyio.TASK_STATUS_IGNORED),
    "treadle": Flavour(treadle.run, open_nursery, TASK_STATUS_IGNORED),
}

Outcome = tuple[str, str]  # (exception type name, str(exception))


def _outcome(error: BaseException) -> Outcome:
    return type(error).__name__, str(error)


def _start_failure(flavour: Flavour[Any], fn: Callable[..., Awaitable[None]]) -> dict[str, Any]:
    """Run ``await nursery.start(fn)`` in a nursery; what start() raised, what the nursery did."""
    seen: dict[str, Any] = {}

    async def main() -> None:
        try:
            async with flavour.group() as nursery:
                try:
                    await nursery.start(fn)
                except Exception as exc:
                    seen["start"] = _outcome(exc)
                    raise
        except BaseExceptionGroup as group:
            seen["nursery"] = [_outcome(exc) for exc in group.exceptions]

    flavour.run(main)
    return seen


async def _fails_before_started(*, task_status: Any = None) -> None:
    raise OSError(98, "Address already in use")


async def _takes_no_task_status() -> None:
    pass


async def _returns_without_started(*, task_status: Any = None) -> None:
    pass


@pytest.mark.parametrize(
    "fn", [_fails_before_started, _takes_no_task_status, _returns_without_started]
)
def test_start_raises_the_childs_error_itself(fn: Callable[..., Awaitable[None]]) -> None:
    results = {name: _start_failure(flavour, fn) for name, flavour in FLAVOURS.items()}
    ours, trios, anyios = results["treadle"], results["trio"], results["anyio"]
    # What start() raised: the child's own exception, not a group.
    assert ours["start"] == trios["start"]
    assert ours["start"][0] == anyios["start"][0]
    # The enclosing nursery then reports one group holding that exception, not a nested group.
    assert ours["nursery"] == trios["nursery"] == [ours["start"]]


def test_except_oserror_around_start_catches_the_bind_error() -> None:
    # The pattern the old group-from-start() broke: a server that cannot bind its port.
    async def main() -> str:
        async with open_nursery() as nursery:
            try:
                await nursery.start(_fails_before_started)
            except OSError as exc:
                return f"caught {exc.strerror}"
        return "not caught"

    assert treadle.run(main) == "caught Address already in use"


@pytest.mark.parametrize("name", list(FLAVOURS))
def test_task_status_ignored_lets_one_function_serve_both_ways(name: str) -> None:
    flavour = FLAVOURS[name]
    ignored = flavour.ignored

    async def serve(port: int, *, task_status: Any = ignored) -> None:
        task_status.started(port + 1)

    async def main() -> Any:
        async with flavour.group() as nursery:
            nursery.start_soon(serve, 1)  # nobody waits: started() is a no-op
            return await nursery.start(serve, 41)

    assert flavour.run(main) == 42


def test_task_status_ignored_is_exported_and_typed() -> None:
    assert treadle.TASK_STATUS_IGNORED is TASK_STATUS_IGNORED
    assert "TASK_STATUS_IGNORED" in treadle.__all__
    assert isinstance(TASK_STATUS_IGNORED, TaskStatus)
    assert repr(TASK_STATUS_IGNORED) == "TASK_STATUS_IGNORED"
    TASK_STATUS_IGNORED.started()
    TASK_STATUS_IGNORED.started(1)


def test_task_status_is_generic_at_run_time() -> None:
    async def server(*, task_status: TaskStatus[int] = TASK_STATUS_IGNORED) -> None:
        task_status.started(8080)

    assert TaskStatus[int].__origin__ is TaskStatus  # type: ignore[attr-defined]

    async def main() -> int:
        async with open_nursery() as nursery:
            port: int = await nursery.start(server)
        return port

    assert treadle.run(main) == 8080


async def work() -> None:
    pass


def _no_warnings_after(call: Callable[[], None]) -> list[str]:
    """Warnings raised while running ``call`` and collecting what it dropped."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
        gc.collect()
    return [str(w.message) for w in caught]


@pytest.mark.parametrize("method", ["start_soon", "start"])
def test_start_soon_with_a_coroutine_object_explains_and_closes_it(method: str) -> None:
    errors: list[str] = []

    async def main() -> None:
        coro = work()
        async with open_nursery() as nursery:
            try:
                if method == "start_soon":
                    nursery.start_soon(coro)  # type: ignore[arg-type]
                else:
                    await nursery.start(coro)  # type: ignore[arg-type]
            except TypeError as exc:
                errors.append(str(exc))
        assert inspect.getcoroutinestate(coro) == "CORO_CLOSED"  # it can never run now

    warned = _no_warnings_after(lambda: treadle.run(main))
    assert warned == []
    [message] = errors
    assert message.startswith(f"nursery.{method}() expected an async function, but got a corou")
    assert f"nursery.{method}(work(...))  # incorrect!" in message
    assert f"nursery.{method}(work, ...)  # correct!" in message


def test_coroutine_object_message_matches_trios() -> None:
    # Trio's wording is the model: same facts, same incorrect/correct pair.
    def message(start_soon: Callable[[Any], object]) -> str:
        with pytest.raises(TypeError) as info:
            start_soon(work())
        return str(info.value)

    async def trio_main() -> str:
        async with trio.open_nursery() as nursery:
            text = message(nursery.start_soon)
        return text

    async def our_main() -> str:
        async with open_nursery() as nursery:
            text = message(nursery.start_soon)
        return text

    theirs, ours = trio.run(trio_main), treadle.run(our_main)
    for shared in (
        "an async function, but",
        "a coroutine object <coroutine object work at",
        "Probably you did something like:",
        "  nursery.start_soon(work(...))  # incorrect!",
        "(notice the parentheses!)",
        "  nursery.start_soon(work, ...)  # correct!",
    ):
        assert shared in theirs
        assert shared in ours


def test_start_soon_with_a_sync_function_says_it_is_synchronous() -> None:
    def sync_work() -> int:
        return 1

    async def main() -> str:
        async with open_nursery() as nursery:
            with pytest.raises(TypeError) as info:
                nursery.start_soon(sync_work)  # type: ignore[arg-type]
        return str(info.value)

    message = treadle.run(main)
    assert "appears to be synchronous" in message  # Trio's words for this case
    assert "sync_work" in message
    assert "async def" in message
    assert "not the result of calling it" not in message  # that hint is for the coroutine case


def test_start_soon_with_a_function_returning_a_future_names_it() -> None:
    async def main() -> str:
        future = asyncio.get_running_loop().create_future()
        future.set_result(None)
        async with open_nursery() as nursery:
            with pytest.raises(TypeError) as info:
                nursery.start_soon(lambda: future)
        return str(info.value)

    message = treadle.run(main)
    assert "returned <Future finished result=None>, an awaitable that is not a coroutine" in message


def test_start_soon_with_a_non_callable_matches_trio() -> None:
    def message(start_soon: Callable[[Any], object]) -> str:
        with pytest.raises(TypeError) as info:
            start_soon(5)
        return str(info.value)

    async def trio_main() -> str:
        async with trio.open_nursery() as nursery:
            text = message(nursery.start_soon)
        return text

    async def our_main() -> str:
        async with open_nursery() as nursery:
            text = message(nursery.start_soon)
        return text

    assert treadle.run(our_main) == trio.run(trio_main) == "'int' object is not callable"


# Per library: (Event, checkpoint, sleep_forever, wait_all_tasks_blocked).
_PRIMITIVES: dict[str, tuple[Any, Any, Any, Any]] = {
    "trio": (
        trio.Event,
        trio.lowlevel.checkpoint,
        trio.sleep_forever,
        trio.testing.wait_all_tasks_blocked,
    ),
    "anyio": (
        anyio.Event,
        anyio.lowlevel.checkpoint,
        anyio.sleep_forever,
        anyio.wait_all_tasks_blocked,
    ),
    "treadle": (
        asyncio.Event,
        structured.checkpoint,
        structured.sleep_forever,
        structured.wait_all_tasks_blocked,
    ),
}


@pytest.mark.parametrize("name", list(FLAVOURS))
def test_start_into_a_nursery_cancelled_meanwhile_moves_in_then_is_cancelled(name: str) -> None:
    # The target nursery is cancelled while a start() into it waits for started(): it stays open
    # for the pending start, the child moves in and is cancelled at its next checkpoint, and
    # start() returns the value (Trio and AnyIO both behave so).
    flavour = FLAVOURS[name]
    event_class, checkpoint, sleep_forever, wait_all_tasks_blocked = _PRIMITIVES[name]
    seen: list[str] = []

    async def holds_inner(*, task_status: Any) -> None:
        async with flavour.group() as inner:
            task_status.started(inner)
            await sleep_forever()

    async def child(ready: Any, *, task_status: Any) -> None:
        await ready.wait()
        await checkpoint()
        seen.append("before started")
        task_status.started("value")
        try:
            await checkpoint()
        except BaseException:
            seen.append("cancelled after started")
            raise

    async def starter(inner: Any, ready: Any) -> None:
        seen.append(await inner.start(child, ready))

    async def main() -> None:
        ready = event_class()
        async with flavour.group() as outer:
            inner = await outer.start(holds_inner)
            outer.start_soon(starter, inner, ready)
            await wait_all_tasks_blocked()
            inner.cancel_scope.cancel()
            ready.set()

    flavour.run(main)
    # Which runs first after started(), the child or start()'s caller, is scheduling order.
    assert sorted(seen) == ["before started", "cancelled after started", "value"]
