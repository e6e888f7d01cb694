"""treadle.structured: Trio-style structured concurrency on treadle's asyncio loop.

Nurseries, level-triggered cancel scopes with deadlines and shields, checkpoints, threads and a
virtual clock, all running as ordinary asyncio Tasks, so that Trio-style and plain asyncio code
share one loop and one cancellation model. docs/structured.md and docs/cancellation.md describe
the model; docs/structured-design.md the implementation choices.
"""

from __future__ import annotations

from . import from_thread, testing, to_thread
from ._cancel import CancelScope
from ._clock import MockClock
from ._instruments import Instrument, add_instrument, remove_instrument
from ._introspection import TaskTree, task_tree, track_task_creators
from ._nursery import TASK_STATUS_IGNORED, Nursery, TaskStatus, open_nursery
from ._run import run
from ._threads import CapacityLimiter, current_default_thread_limiter
from ._timeouts import fail_after, fail_at, move_on_after, move_on_at
from ._wait import (
    checkpoint,
    checkpoint_if_cancelled,
    current_effective_deadline,
    current_time,
    sleep,
    sleep_forever,
    sleep_until,
    wait_all_tasks_blocked,
)

__all__ = [
    "TASK_STATUS_IGNORED",
    "CancelScope",
    "CapacityLimiter",
    "Instrument",
    "MockClock",
    "Nursery",
    "TaskStatus",
    "TaskTree",
    "add_instrument",
    "checkpoint",
    "checkpoint_if_cancelled",
    "current_default_thread_limiter",
    "current_effective_deadline",
    "current_time",
    "fail_after",
    "fail_at",
    "from_thread",
    "move_on_after",
    "move_on_at",
    "open_nursery",
    "remove_instrument",
    "run",
    "sleep",
    "sleep_forever",
    "sleep_until",
    "task_tree",
    "testing",
    "to_thread",
    "track_task_creators",
    "wait_all_tasks_blocked",
]
