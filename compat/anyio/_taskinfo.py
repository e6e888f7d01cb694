"""AnyIO's TaskInfo for asyncio Tasks on a treadle loop."""

from __future__ import annotations

import asyncio
from typing import Any

from anyio import TaskInfo

from ._native import cancel_requests_from_outside, task_is_cancelled, task_parent


class TreadleTaskInfo(TaskInfo):
    """``anyio.get_current_task()`` and friends: id, parent's id (nursery children), name, coro."""

    def __init__(self, task: asyncio.Task[Any]) -> None:
        parent = task_parent(task)
        coro: Any = task.get_coro()  # None only for a finished eager task; AnyIO allows it
        super().__init__(
            id(task), id(parent) if parent is not None else None, task.get_name(), coro
        )
        self._task = task

    def has_pending_cancellation(self) -> bool:
        """True when the task's next checkpoint would raise: a visible cancelled scope, or a
        ``task.cancel()`` from outside treadle's scopes (their own deliveries do not count: a
        shield hides them)."""
        task = self._task
        if task.done():
            return False
        return task_is_cancelled(task) or cancel_requests_from_outside(task) > 0
