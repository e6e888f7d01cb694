"""How asyncio Tasks join treadle's cancel scope tree.

Every task that entered a cancel scope, and every nursery child, has a :class:`TaskState`: its
innermost cancel scope, and the bookkeeping for cancellations treadle delivered to it. States live
in one dict keyed by task (asyncio's C Task has no slot for us, and we keep its class untouched so
libraries that read its attributes keep working). A state is dropped when its task is done.

A plain asyncio task (``loop.create_task``) gets a state only when it enters a scope itself; it is
not a member of the scope its creator was in. That is Trio's rule (only nursery children inherit
cancellation) and AnyIO's on asyncio, and it keeps asyncio's own model intact: a task created with
``create_task`` is independent unless something like a TaskGroup or a nursery owns it.
"""

from __future__ import annotations

import asyncio
import contextvars
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._cancel import CancelScope
    from ._nursery import Nursery


class TaskState:
    """treadle's view of one asyncio Task."""

    __slots__ = (
        "delivered",
        "immune",
        "in_flight",
        "nursery",
        "root",
        "scope",
        "task",
        "waited_on",
    )

    def __init__(self, task: asyncio.Task[Any], scope: CancelScope | None) -> None:
        self.task = task
        # Innermost cancel scope the task is in; None when it is in no scope at all.
        self.scope = scope
        # task.cancel() calls treadle made that no scope has uncancel()ed yet. The scope that
        # catches the cancellation uncancels exactly this many, which keeps task.cancelling()
        # right for asyncio.timeout and TaskGroup around and inside treadle scopes.
        self.delivered = 0
        # A delivery (or a deferred check) is on its way; the follow-up check clears it.
        self.in_flight = False
        # True while a nursery's __aexit__ waits for its children: that wait is not a checkpoint
        # that level-triggered cancellation should keep hitting (it would spin).
        self.immune = False
        self.nursery: Nursery | None = None  # set for nursery children only
        # A scope entered for the task before it started (CancelScope._enter_for, a nursery
        # child's root scope). Its parent's _children does not list it: cancellation reaches
        # it through this field, from the parent's _tasks.
        self.root: CancelScope | None = None
        # The future the task was parked on when treadle last cancelled it.
        self.waited_on: asyncio.Future[Any] | None = None


states: dict[asyncio.Task[Any], TaskState] = {}


def _forget(task: asyncio.Task[Any]) -> None:
    states.pop(task, None)


def state_for(task: asyncio.Task[Any]) -> TaskState:
    """The state of ``task``, created (and dropped again when the task is done) on first use."""
    state = states.get(task)
    if state is None:
        state = states[task] = TaskState(task, None)
        # An empty context: the callback needs none, and the task's own would keep every
        # context variable value it holds now alive as long as the task runs.
        task.add_done_callback(_forget, context=contextvars.Context())
    return state


def current_task_state() -> TaskState:
    task = asyncio.current_task()
    if task is None:
        raise RuntimeError("this must be called from inside an asyncio task")
    return states.get(task) or state_for(task)
