"""``to_thread.run_sync``: blocking calls in worker threads (Trio's and AnyIO's spelling)."""

from __future__ import annotations

from ._threads import CapacityLimiter, current_default_thread_limiter
from ._threads import run_sync_in_thread as run_sync

__all__ = ["CapacityLimiter", "current_default_thread_limiter", "run_sync"]
