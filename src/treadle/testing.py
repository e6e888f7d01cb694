"""treadle.testing: virtual time and "everyone is blocked" detection for tests.

``MockClock`` makes a loop's time virtual (``treadle.run(main(), clock=MockClock())``);
``wait_all_tasks_blocked`` waits until every task is parked. Both live in treadle.structured.
"""

from __future__ import annotations

from treadle.structured.testing import MockClock, wait_all_tasks_blocked

__all__ = ["MockClock", "wait_all_tasks_blocked"]
