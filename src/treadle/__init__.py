"""treadle: an asyncio event loop of its own, with Trio-style structured concurrency built in.

Run asyncio code on it with ``treadle.run(main())``, or hand ``treadle.new_event_loop`` to
``asyncio.run(main(), loop_factory=...)`` (3.12+) or ``asyncio.Runner(loop_factory=...)``.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from treadle import testing
from treadle.compat import EventLoopPolicy, install, new_event_loop, run
from treadle.core import EventLoop, available_pollers

# --- structured concurrency -----------------------------------------------------------------------
from treadle.structured import (
    TASK_STATUS_IGNORED,
    CancelScope,
    CapacityLimiter,
    Instrument,
    Nursery,
    TaskStatus,
    TaskTree,
    add_instrument,
    checkpoint,
    checkpoint_if_cancelled,
    current_default_thread_limiter,
    current_effective_deadline,
    current_time,
    fail_after,
    fail_at,
    from_thread,
    move_on_after,
    move_on_at,
    open_nursery,
    remove_instrument,
    sleep,
    sleep_forever,
    sleep_until,
    task_tree,
    to_thread,
    track_task_creators,
    wait_all_tasks_blocked,
)

try:
    __version__ = version("treadle")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

# Sorted, as ruff's RUF022 asks.
__all__ = [
    "TASK_STATUS_IGNORED",
    "CancelScope",
    "CapacityLimiter",
    "EventLoop",
    "EventLoopPolicy",
    "Instrument",
    "Nursery",
    "TaskStatus",
    "TaskTree",
    "__version__",
    "add_instrument",
    "available_pollers",
    "checkpoint",
    "checkpoint_if_cancelled",
    "current_default_thread_limiter",
    "current_effective_deadline",
    "current_time",
    "fail_after",
    "fail_at",
    "from_thread",
    "install",
    "move_on_after",
    "move_on_at",
    "new_event_loop",
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
