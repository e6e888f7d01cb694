"""``from_thread.run`` / ``run_sync``: from a ``to_thread`` worker, call back into the loop."""

from __future__ import annotations

from ._threads import run_in_loop as run
from ._threads import run_sync_in_loop as run_sync

__all__ = ["run", "run_sync"]
