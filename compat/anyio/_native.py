"""The few pieces of treadle.structured's internals that the AnyIO backend reads.

AnyIO asks questions that treadle's public API does not answer yet: "is this task's innermost
scope effectively cancelled?" (``TaskInfo.has_pending_cancellation``, ``from_thread
.check_cancelled``, which ask from another thread too), "which nursery is this task a child of?"
(``TaskInfo.parent_id``), and one thing it asks to do: run a task that a worker thread started
with ``anyio.from_thread.run`` inside the worker's host scope, so cancelling the host cancels
it (``adopt``, the way a nursery roots its children). Task groups spawn their children with a
runner that reports each child's end itself (``report_child_exit``), which saves a loop callback
per child. Capacity limiters keep their tokens in structured's ``TokenLedger``, as treadle's
own do, and per-loop defaults (thread limiter, worker pool) live in its ``PerLoop``. Reading
them here, in one module, keeps the backend's dependence on structured's private modules
visible and small; if structured grows a public introspection call for them, only this file
changes.
"""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

from treadle.structured._cancel import CancelScope as NativeScope
from treadle.structured._cancel import ScopeState, deliver, effective_cancel
from treadle.structured._nursery import report_child_exit
from treadle.structured._per_loop import PerLoop
from treadle.structured._tasks import TaskState, states
from treadle.structured._tokens import TokenLedger, wait_for_token

__all__ = [
    "NativeScope",
    "PerLoop",
    "ScopeState",
    "TaskState",
    "TokenLedger",
    "adopt",
    "cancel_requests_from_outside",
    "raise_if_cancelled",
    "report_child_exit",
    "scope_is_cancelled",
    "task_is_cancelled",
    "task_parent",
    "task_scope",
    "wait_for_token",
]


def scope_is_cancelled(scope: NativeScope | None) -> bool:
    """True when ``scope`` or an unshielded enclosing scope was cancelled."""
    return effective_cancel(scope) is not None


def task_scope(task: asyncio.Task[Any]) -> NativeScope | None:
    """The innermost treadle cancel scope ``task`` is in, or None."""
    state = states.get(task)
    return state.scope if state is not None else None


def task_parent(task: asyncio.Task[Any]) -> asyncio.Task[Any] | None:
    """The task whose nursery ``task`` is a child of, or None for a plain task."""
    state = states.get(task)
    if state is None or state.nursery is None:
        return None
    return state.nursery.parent_task


def raise_if_cancelled() -> None:
    """``checkpoint_if_cancelled`` without a coroutine: the socket fast paths call it per op."""
    task = asyncio.current_task()
    if task is not None:
        state = states.get(task)
        if state is not None:
            origin = effective_cancel(state.scope)
            if origin is not None:
                raise asyncio.CancelledError(origin._reason)


def cancel_requests_from_outside(task: asyncio.Task[Any]) -> int:
    """``task.cancelling()`` minus the ``cancel()`` calls treadle's own scopes made."""
    state = states.get(task)
    return task.cancelling() - (state.delivered if state is not None else 0)


def task_is_cancelled(task: asyncio.Task[Any]) -> bool:
    return scope_is_cancelled(task_scope(task))


def adopt(task: asyncio.Task[Any], scope: NativeScope) -> None:
    """Root ``task`` (not started yet, in no scope) in ``scope``, like a nursery child.

    Cancelling ``scope`` then reaches the task; it leaves the scope when it is done.
    """
    state = TaskState(task, scope)
    states[task] = state
    if scope._tasks is None:
        scope._tasks = set()
    scope._tasks.add(state)
    task.add_done_callback(lambda _: _disown(state, scope), context=contextvars.Context())
    if effective_cancel(scope) is not None:
        deliver(state)  # deferred until its first checkpoint, as for a nursery child


def _disown(state: TaskState, scope: NativeScope) -> None:
    states.pop(state.task, None)
    if scope._tasks is not None:
        scope._tasks.discard(state)
