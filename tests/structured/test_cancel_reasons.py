"""The message of the CancelledError a cancelled scope delivers: who cancelled, and why."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from treadle.structured import (
    CancelScope,
    checkpoint,
    fail_after,
    move_on_after,
    open_nursery,
    sleep,
    sleep_forever,
)

Runner = Callable[[Coroutine[Any, Any, Any]], Any]


def test_cancel_reason_and_caller_name_reach_the_checkpoint(trun: Runner) -> None:
    async def main() -> str:
        asyncio.current_task().set_name("boss")  # type: ignore[union-attr]
        with CancelScope() as scope:
            scope.cancel("shutting down")
            try:
                await checkpoint()
            except asyncio.CancelledError as exc:
                return str(exc)
        raise AssertionError("not cancelled")

    assert trun(main()) == "cancelled by task 'boss'; reason: shutting down"


def test_cancel_without_reason_names_the_caller(trun: Runner) -> None:
    async def main() -> str:
        asyncio.current_task().set_name("boss")  # type: ignore[union-attr]
        with CancelScope() as scope:
            scope.cancel()
            try:
                await sleep(1)
            except asyncio.CancelledError as exc:
                return str(exc)
        raise AssertionError("not cancelled")

    assert trun(main()) == "cancelled by task 'boss'"


def test_first_reason_wins(trun: Runner) -> None:
    async def main() -> str:
        with CancelScope() as scope:
            scope.cancel("first")
            scope.cancel("second")
            try:
                await checkpoint()
            except asyncio.CancelledError as exc:
                return str(exc)
        raise AssertionError("not cancelled")

    assert trun(main()).endswith("; reason: first")


def test_parked_child_gets_the_reason_of_the_outer_scope(trun: Runner) -> None:
    seen: list[str] = []

    async def child() -> None:
        try:
            await sleep_forever()
        except asyncio.CancelledError as exc:
            seen.append(str(exc))
            raise

    async def main() -> None:
        async with open_nursery() as nursery:
            nursery.start_soon(child)
            await sleep(1)
            nursery.cancel_scope.cancel("enough")

    trun(main())
    assert len(seen) == 1
    assert seen[0].endswith("; reason: enough")


def test_deadline_says_deadline(trun: Runner) -> None:
    seen: list[str] = []

    async def park(scope: CancelScope) -> None:
        with scope:
            try:
                await sleep_forever()
            except asyncio.CancelledError as exc:
                seen.append(str(exc))
                raise

    async def main() -> None:
        await park(move_on_after(1))
        with pytest.raises(TimeoutError):
            await park(fail_after(0))

    trun(main())
    assert seen == ["cancelled: the cancel scope's deadline passed"] * 2


def test_failing_child_is_named_in_the_siblings_cancellation(trun: Runner) -> None:
    seen: list[str] = []

    async def sibling() -> None:
        try:
            await sleep_forever()
        except asyncio.CancelledError as exc:
            seen.append(str(exc))
            raise

    async def failing() -> None:
        await sleep(1)
        raise ValueError("boom")

    async def main() -> None:
        async with open_nursery() as nursery:
            nursery.start_soon(sibling)
            nursery.start_soon(failing, name="failing")

    with pytest.raises(ExceptionGroup):
        trun(main())
    assert seen == ["cancelled: child task 'failing' raised ValueError"]
