"""The few pieces of treadle.structured's internals that the AnyIO backend reads.

AnyIO asks questions that treadle's public API does not answer yet: "is this task's innermost
scope effectively cancelled?" (``TaskInfo.has_pending_cancellation``, ``from_thread
.check_cancelled``, which ask from another thread too), "which nursery is this task a child of?"
(``TaskInfo.parent_id``), and "what is the native scope inside this wrapper?". Reading them here,
in one module, keeps the backend's dependence on structured's private modules visible and small;
if structured grows a public introspection call for them, only this file changes.
"""

from __future__ import annotations

import asyncio
from typing import Any

from treadle.structured._cancel import CancelScope as NativeScope
from treadle.structured._cancel import effective_cancel
from treadle.structured._tasks import states


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


def task_is_cancelled(task: asyncio.Task[Any]) -> bool:
    return scope_is_cancelled(task_scope(task))
