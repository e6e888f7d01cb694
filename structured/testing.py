"""Testing helpers for treadle programs: virtual time and "everyone is blocked" detection.

The lead re-exports this module as ``treadle.testing``.
"""

from __future__ import annotations

from ._clock import MockClock
from ._wait import wait_all_tasks_blocked

__all__ = ["MockClock", "wait_all_tasks_blocked"]
