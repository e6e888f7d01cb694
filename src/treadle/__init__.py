"""treadle: an asyncio event loop of its own, with Trio-style structured concurrency built in.

Run asyncio code on it with ``treadle.run(main())``, or hand ``treadle.new_event_loop`` to
``asyncio.run(main(), loop_factory=...)`` (3.12+) or ``asyncio.Runner(loop_factory=...)``.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

# _variant first: it decides, before treadle.core is imported, whether a compiled install's
# extension modules or the pure-Python modules load (TREADLE_PURE_PYTHON).
from treadle import _variant, testing
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

#: True when treadle.core runs mypyc-compiled (``TREADLE_COMPILE=1 pip install .``), False for the
#: pure-Python modules (the default, or TREADLE_PURE_PYTHON=1 at run time).
compiled: bool = _variant.core_is_compiled()

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
    "compiled",
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
