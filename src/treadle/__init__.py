"""treadle: an asyncio event loop of its own, with Trio-style structured concurrency built in.

Run asyncio code on it with ``treadle.run(main())``, or hand ``treadle.new_event_loop`` to
``asyncio.run(main(), loop_factory=...)`` (3.12+) or ``asyncio.Runner(loop_factory=...)``.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from treadle.compat import EventLoopPolicy, install, new_event_loop, run
from treadle.core import EventLoop, available_pollers

# --- structured concurrency -----------------------------------------------------------------------
# Nurseries, cancel scopes and timeouts from treadle.structured are re-exported here, and added to
# __all__ below, as they land.

try:
    __version__ = version("treadle")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

# Sorted, as ruff's RUF022 asks; add the structured names (open_nursery, CancelScope, ...) in
# their sorted places when they land.
__all__ = [
    "EventLoop",
    "EventLoopPolicy",
    "__version__",
    "available_pollers",
    "install",
    "new_event_loop",
    "run",
]
