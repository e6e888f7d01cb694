"""Cancel scopes: level-triggered cancellation, shields, deadlines, and asyncio's counts.

Scenarios marked "trio:" are ported (as scenarios, in our own code) from python-trio/trio's
src/trio/_core/_tests/test_run.py and src/trio/_tests/test_timeouts.py.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from treadle.structured import (
    CancelScope,
    checkpoint,
    checkpoint_if_cancelled,
    current_effective_deadline,
    current_time,
    fail_after,
    fail_at,
    move_on_after,
    move_on_at,
    sleep,
    sleep_forever,
    sleep_until,
)

Runner = Callable[[Coroutine[Any, Any, Any]], Any]


def test_cancel_before_checkpoint_raises_at_checkpoint(trun: Runner) -> None:
    # trio: test_cancel_scope_basic (cancel, then the next checkpoint raises and the scope eats it)
    async def main() -> list[str]:
        seen = []
        with CancelScope() as scope:
            scope.cancel()
            seen.append("still running")
            await checkpoint()
            seen.append("not reached")
        assert scope.cancel_called
        assert scope.cancelled_caught
        return seen

    assert trun(main()) == ["still running"]


def test_scope_not_cancelled_catches_nothing(trun: Runner) -> None:
    async def main() -> None:
        with CancelScope() as scope:
            await checkpoint()
        assert not scope.cancel_called
        assert not scope.cancelled_caught

    trun(main())


def test_cancellation_is_level_triggered_in_plain_asyncio_code(trun: Runner) -> None:
    # trio: test_cancel_edge_cases / "every checkpoint raises until the scope exits"
    async def contended_lock() -> None:
        lock = asyncio.Lock()
        await lock.acquire()  # uncontended: asyncio does not yield here, so no checkpoint
        await lock.acquire()

    async def main() -> int:
        raised = 0
        with CancelScope() as scope:
            scope.cancel()
            for waiter in (
                lambda: asyncio.sleep(10),
                lambda: asyncio.Queue().get(),
                contended_lock,
                lambda: asyncio.Event().wait(),
                lambda: asyncio.get_running_loop().create_future(),
                lambda: asyncio.sleep(0),
            ):
                try:
                    await waiter()
                except asyncio.CancelledError:
                    raised += 1
            await sleep(1)
        assert scope.cancelled_caught
        return raised

    assert trun(main()) == 6


def test_level_triggered_in_finally_after_catching(trun: Runner) -> None:
    async def main() -> list[str]:
        log = []
        with move_on_after(1):
            try:
                await sleep_forever()
            finally:
                log.append("cleanup")
                try:
                    await asyncio.sleep(5)
                except asyncio.CancelledError:
                    log.append("cleanup cancelled too")
                    raise
        log.append(f"after at {current_time()}")
        return log

    assert trun(main()) == ["cleanup", "cleanup cancelled too", "after at 1.0"]


def test_cancel_from_another_task_wakes_parked_task(trun: Runner) -> None:
    async def main() -> bool:
        scope = CancelScope()

        async def victim() -> None:
            with scope:
                await asyncio.sleep(100)

        task = asyncio.create_task(victim())
        await asyncio.sleep(1)
        scope.cancel()
        await task
        return scope.cancelled_caught and not task.cancelled()

    assert trun(main())


def test_shield_blocks_outer_cancellation(trun: Runner) -> None:
    # trio: test_cancel_shielding
    async def main() -> list[object]:
        log: list[object] = []
        with CancelScope() as outer:
            outer.cancel()
            with CancelScope(shield=True) as inner:
                await asyncio.sleep(1)  # not cancelled
                log.append("shielded sleep done")
                inner.shield = False
                try:
                    await checkpoint()
                except asyncio.CancelledError:
                    log.append("cancelled once unshielded")
                inner.shield = True
                await checkpoint()
                log.append("shielded again")
            await checkpoint()
            log.append("not reached")
        log.append(outer.cancelled_caught)
        return log

    assert trun(main()) == [
        "shielded sleep done",
        "cancelled once unshielded",
        "shielded again",
        True,
    ]


def test_unshielding_wakes_a_parked_task(trun: Runner) -> None:
    async def main() -> float:
        with CancelScope() as outer, CancelScope(shield=True) as inner:
            outer.cancel()
            asyncio.get_running_loop().call_later(3, setattr, inner, "shield", False)
            await sleep(100)
        assert outer.cancelled_caught
        assert not inner.cancelled_caught
        return current_time()

    assert trun(main()) == 3.0


def test_cancelled_shielded_scope_still_cancels_its_body(trun: Runner) -> None:
    # trio: test_cancel_shield_abort (a shield does not protect against its own cancel)
    async def main() -> bool:
        with CancelScope(shield=True) as scope:
            scope.cancel()
            await checkpoint()
        return scope.cancelled_caught

    assert trun(main())


def test_outermost_cancelled_scope_catches(trun: Runner) -> None:
    # trio: test_nested_cancel_scopes (both cancelled: the outer one catches)
    async def main() -> tuple[bool, bool]:
        with CancelScope() as outer, CancelScope() as inner:
            inner.cancel()
            outer.cancel()
            await checkpoint()
        return outer.cancelled_caught, inner.cancelled_caught

    assert trun(main()) == (True, False)


def test_scope_cancelled_after_exit_is_harmless(trun: Runner) -> None:
    async def main() -> None:
        with CancelScope() as scope:
            pass
        scope.cancel()
        await checkpoint()
        assert scope.cancel_called
        assert not scope.cancelled_caught

    trun(main())


def test_scope_cancelled_before_entering_starts_cancelled(trun: Runner) -> None:
    async def main() -> bool:
        scope = CancelScope()
        scope.cancel()
        with scope:
            await checkpoint()
        return scope.cancelled_caught

    assert trun(main())


def test_scope_cannot_be_entered_twice(trun: Runner) -> None:
    # trio: test_cancel_scope_multiple_entry (reuse raises RuntimeError)
    async def main() -> None:
        scope = CancelScope()
        with scope:
            pass
        with pytest.raises(RuntimeError, match="already entered"), scope:
            pass

    trun(main())


def test_exit_out_of_order_raises_clear_error(trun: Runner) -> None:
    # trio: test_cancel_scope_misnesting
    async def main() -> None:
        outer = CancelScope()
        inner = CancelScope()
        outer.__enter__()
        inner.__enter__()
        with pytest.raises(RuntimeError, match="out of order"):
            outer.__exit__(None, None, None)
        # The task's scope stack was repaired: new scopes work.
        with CancelScope() as fresh:
            fresh.cancel()
            await checkpoint()
        assert fresh.cancelled_caught

    trun(main())


def test_exit_in_another_task_raises(trun: Runner) -> None:
    # trio: test_cancel_scope_misnesting (exit from an unrelated task)
    async def main() -> None:
        scope = CancelScope()
        scope.__enter__()

        async def other() -> None:
            with pytest.raises(RuntimeError, match="exited in"):
                scope.__exit__(None, None, None)

        await asyncio.create_task(other())
        scope.__exit__(None, None, None)

    trun(main())


def test_enter_outside_task_raises() -> None:
    with pytest.raises(RuntimeError):
        CancelScope().__enter__()


# -- deadlines -------------------------------------------------------------------------------


def test_move_on_after_on_virtual_time(trun: Runner) -> None:
    # trio: test_move_on_after
    async def main() -> tuple[bool, float]:
        with move_on_after(5) as scope:
            await sleep(10)
        return scope.cancelled_caught, current_time()

    assert trun(main()) == (True, 5.0)


def test_move_on_at_that_does_not_fire(trun: Runner) -> None:
    async def main() -> tuple[bool, float]:
        with move_on_at(current_time() + 5) as scope:
            await sleep(1)
        await sleep(10)  # the timer was withdrawn
        return scope.cancelled_caught, current_time()

    assert trun(main()) == (False, 11.0)


def test_fail_after_raises_builtin_timeout_error(trun: Runner) -> None:
    # trio: test_fail (TooSlowError; here the builtin TimeoutError, as asyncio.timeout raises)
    async def main() -> float:
        with pytest.raises(TimeoutError) as info, fail_after(2):
            await sleep_forever()
        assert isinstance(info.value.__cause__, asyncio.CancelledError)
        return current_time()

    assert trun(main()) == 2.0


def test_fail_at_in_time_returns_normally(trun: Runner) -> None:
    async def main() -> None:
        with fail_at(current_time() + 2) as scope:
            await sleep(1)
        assert not scope.cancelled_caught

    trun(main())


def test_deadline_in_the_past_cancels_at_once(trun: Runner) -> None:
    # trio: test_cancel_scope_deadline (a past deadline: the first checkpoint raises)
    async def main() -> bool:
        with CancelScope(deadline=current_time() - 1) as scope:
            await checkpoint()
        return scope.cancelled_caught

    assert trun(main())


def test_deadline_can_move(trun: Runner) -> None:
    # trio: test_cancel_scope_deadline_mutation (move it later, earlier, remove it)
    async def main() -> list[float]:
        times = []
        with CancelScope(deadline=current_time() + 5) as scope:
            scope.deadline = current_time() + 10
            await sleep(20)
        times.append(current_time())
        with CancelScope(deadline=current_time() + 10) as scope:
            asyncio.get_running_loop().call_later(1, setattr, scope, "deadline", 0.0)
            await sleep(20)
        times.append(current_time())
        with CancelScope(deadline=current_time() + 1) as scope:
            scope.deadline = math.inf
            await sleep(3)
        assert not scope.cancelled_caught
        times.append(current_time())
        return times

    assert trun(main()) == [10.0, 11.0, 14.0]


def test_deadline_rejects_nan() -> None:
    with pytest.raises(ValueError, match="NaN"):
        CancelScope(deadline=math.nan)
    with pytest.raises(ValueError, match="NaN"):
        CancelScope().deadline = math.nan


def test_timeouts_reject_negative_and_nan(trun: Runner) -> None:
    async def main() -> None:
        with pytest.raises(ValueError, match="timeout must be non-negative"):
            move_on_after(-1)
        with pytest.raises(ValueError, match="timeout must not be NaN"):
            fail_after(math.nan)
        with pytest.raises(ValueError, match="sleep duration must be non-negative"):
            await sleep(-1)

    trun(main())


def test_cancel_called_sees_an_expired_deadline(trun: Runner, clock: object) -> None:
    async def main() -> bool:
        with CancelScope(deadline=current_time() + 1) as scope:
            clock.jump(2)  # type: ignore[attr-defined]
            # The timer has not run yet; cancel_called still reflects the deadline.
            called = scope.cancel_called
            await checkpoint()
        return called and scope.cancelled_caught

    assert trun(main())


def test_current_effective_deadline(trun: Runner) -> None:
    # trio: test_current_effective_deadline
    async def main() -> list[float]:
        seen = [current_effective_deadline()]
        with move_on_at(10):
            with move_on_at(5):
                seen.append(current_effective_deadline())
            with move_on_at(20):
                seen.append(current_effective_deadline())
            with CancelScope(deadline=30, shield=True):
                seen.append(current_effective_deadline())
            with CancelScope() as scope:
                scope.cancel()
                seen.append(current_effective_deadline())
                await checkpoint()
        return seen

    assert trun(main()) == [math.inf, 5, 10, 30, -math.inf]


# -- checkpoints and sleeping ----------------------------------------------------------------


def test_checkpoint_if_cancelled_raises_without_yielding(trun: Runner) -> None:
    async def main() -> bool:
        await checkpoint_if_cancelled()  # not cancelled: nothing happens
        with CancelScope() as scope:
            scope.cancel()
            await checkpoint_if_cancelled()
        return scope.cancelled_caught

    assert trun(main())


def test_checkpoint_lets_others_run(trun: Runner) -> None:
    async def main() -> list[str]:
        log = []

        async def other() -> None:
            log.append("other")

        task = asyncio.create_task(other())
        await checkpoint()
        log.append("main")
        await task
        return log

    assert trun(main()) == ["other", "main"]


def test_sleep_until_and_sleep_zero(trun: Runner) -> None:
    async def main() -> list[float]:
        times = []
        await sleep_until(7.5)
        times.append(current_time())
        await sleep_until(1)  # in the past: just a checkpoint
        await sleep(0)
        times.append(current_time())
        return times

    assert trun(main()) == [7.5, 7.5]


def test_sleep_forever_until_cancelled(trun: Runner) -> None:
    async def main() -> float:
        with move_on_after(3600):
            await sleep_forever()
        return current_time()

    assert trun(main()) == 3600.0


# -- asyncio's own cancellation machinery, around and inside scopes --------------------------


def test_cancelling_count_restored_after_scope_catches(trun: Runner) -> None:
    async def main() -> list[int]:
        task = asyncio.current_task()
        assert task is not None
        counts = []
        with CancelScope() as scope:
            scope.cancel()
            for _ in range(3):  # three deliveries, each caught
                try:
                    await asyncio.sleep(1)
                except asyncio.CancelledError:
                    counts.append(task.cancelling())
        counts.append(task.cancelling())
        return counts

    counts = trun(main())
    assert counts[-1] == 0
    assert all(count >= 1 for count in counts[:-1])


def test_asyncio_timeout_inside_cancel_scope(trun: Runner) -> None:
    async def main() -> tuple[bool, float]:
        with CancelScope() as scope:
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(1):
                    await asyncio.sleep(10)
            await asyncio.sleep(1)
        return scope.cancelled_caught, current_time()

    assert trun(main()) == (False, 2.0)


def test_asyncio_timeout_around_cancel_scope(trun: Runner) -> None:
    async def main() -> float:
        async def body() -> None:
            async with asyncio.timeout(1):
                with CancelScope():
                    await asyncio.sleep(10)

        with pytest.raises(TimeoutError):
            await body()
        return current_time()

    assert trun(main()) == 1.0


def test_asyncio_timeout_around_expired_scope_both_fire(trun: Runner) -> None:
    async def main() -> tuple[bool, int]:
        task = asyncio.current_task()
        assert task is not None
        async with asyncio.timeout(5):
            with move_on_after(1) as scope:
                await asyncio.sleep(10)
            await asyncio.sleep(1)
        return scope.cancelled_caught, task.cancelling()

    assert trun(main()) == (True, 0)


def test_scope_inside_asyncio_timeout_that_expires_first(trun: Runner) -> None:
    async def main() -> int:
        task = asyncio.current_task()
        assert task is not None

        async def body() -> None:
            async with asyncio.timeout(1):
                with move_on_after(5):
                    await asyncio.sleep(10)

        with pytest.raises(TimeoutError):
            await body()
        return task.cancelling()

    assert trun(main()) == 0


def test_external_task_cancel_passes_through_cancelled_scope(trun: Runner) -> None:
    # A scope swallows only the cancellation it caused.
    async def main() -> bool:
        started = asyncio.Event()

        async def victim() -> None:
            with CancelScope() as scope:
                started.set()
                try:
                    await asyncio.sleep(10)
                finally:
                    scope.cancel()  # our own cancel too; still must not eat the external one

        task = asyncio.create_task(victim())
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return task.cancelled()

    assert trun(main())


def test_task_cancel_inside_scope_behaves_as_asyncio(trun: Runner) -> None:
    async def main() -> str:
        async def victim() -> str:
            with CancelScope():
                try:
                    await asyncio.sleep(10)
                except asyncio.CancelledError:
                    return "caught like asyncio"
            return "not reached"

        task = asyncio.create_task(victim())
        await asyncio.sleep(1)
        task.cancel()
        return await task

    assert trun(main()) == "caught like asyncio"


def test_task_group_inside_cancelled_scope(trun: Runner) -> None:
    async def main() -> tuple[bool, float, int]:
        task = asyncio.current_task()
        assert task is not None
        cleaned = []

        async def child() -> None:
            try:
                await asyncio.sleep(100)
            finally:
                cleaned.append(1)

        with move_on_after(2) as scope:
            async with asyncio.TaskGroup() as group:
                group.create_task(child())
                group.create_task(child())
        assert len(cleaned) == 2
        return scope.cancelled_caught, current_time(), task.cancelling()

    assert trun(main()) == (True, 2.0, 0)


def test_cancel_scope_inside_task_group_child(trun: Runner) -> None:
    async def main() -> list[bool]:
        results = []

        async def child() -> None:
            with move_on_after(1) as scope:
                await asyncio.sleep(10)
            results.append(scope.cancelled_caught)

        async with asyncio.TaskGroup() as group:
            group.create_task(child())
            group.create_task(child())
        return results

    assert trun(main()) == [True, True]


def test_awaiting_a_task_that_swallows_cancel_does_not_spin(trun: Runner) -> None:
    async def main() -> tuple[float, int]:
        steps = 0

        async def stubborn() -> None:
            nonlocal steps
            for _ in range(3):
                try:
                    await asyncio.sleep(5)
                except asyncio.CancelledError:
                    steps += 1

        inner = asyncio.create_task(stubborn())
        with move_on_after(1):
            await inner  # cancel() reaches `inner` through the await, as in asyncio
        return current_time(), steps

    elapsed, steps = trun(main())
    assert steps <= 3
    assert elapsed >= 1.0


def test_plain_task_created_in_scope_is_not_cancelled_with_it(trun: Runner) -> None:
    # Design choice (Trio and AnyIO agree): only nursery children inherit cancellation.
    async def main() -> str:
        with move_on_after(1):
            task = asyncio.create_task(asyncio.sleep(5, result="independent"))
            await sleep(2)
        return await task

    assert trun(main()) == "independent"


def test_exception_group_with_cancellation_is_split(trun: Runner) -> None:
    async def main() -> None:
        def cancel_and_raise(scope: CancelScope) -> None:
            scope.cancel()
            raise BaseExceptionGroup("mixed", [ValueError("x"), asyncio.CancelledError()])

        with pytest.raises(ExceptionGroup) as info, CancelScope() as scope:
            cancel_and_raise(scope)
        assert [type(e) for e in info.value.exceptions] == [ValueError]
        assert scope.cancelled_caught

    trun(main())


def test_group_without_our_cancellations_keeps_cause_and_context(trun: Runner) -> None:
    # The scope removes the CancelledError it caused from a group; what is left must still say
    # what the body saw: the original group's __cause__ and __context__, not the group itself.
    body_error = KeyError("body")
    cause = ValueError("cause")
    scope = CancelScope()

    async def body() -> None:
        with scope:
            scope.cancel()
            try:
                raise body_error
            except KeyError:
                try:
                    await checkpoint()
                except asyncio.CancelledError as cancelled:
                    raise BaseExceptionGroup("both", [body_error, cancelled]) from cause

    async def main() -> None:
        with pytest.raises(ExceptionGroup) as info:
            await body()
        assert info.value.exceptions == (body_error,)
        assert info.value.__cause__ is cause
        # Raised inside ``except CancelledError``: that error is the original's context, and
        # stays the context of what comes out (not the original group).
        assert isinstance(info.value.__context__, asyncio.CancelledError)
        assert info.value.__context__.__context__ is body_error
        assert scope.cancelled_caught

    trun(main())
