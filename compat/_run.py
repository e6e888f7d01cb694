"""Ways to run asyncio code on treadle: ``run()``, ``loop_factory``, and the legacy ``install()``.

All three end in ``treadle.core.new_event_loop``. ``run()`` is ``treadle.structured.run``, one
function under two names: it needs only the core loop and a root cancel scope, so it lives in the
structured layer (which never imports this one), and treadle's top-level ``run`` is that same
function (docs/design.md, "One run()").
"""

from __future__ import annotations

import asyncio
import sys
import warnings

from treadle.core import new_event_loop
from treadle.structured import run

from ._policy import EventLoopPolicy

__all__ = ["install", "new_event_loop", "run"]


def install() -> None:
    """Make treadle asyncio's default loop through the event loop policy.

    Afterwards ``asyncio.run()``, ``asyncio.new_event_loop()`` and ``asyncio.get_event_loop()``
    use treadle loops. On 3.12+ this warns ``DeprecationWarning``: asyncio is retiring policies
    (deprecated in 3.14), and ``treadle.run()`` or ``asyncio.run(..., loop_factory=...)`` do the
    same job without global state.
    """
    if sys.version_info >= (3, 12):
        # Warn before changing anything, so that with warnings as errors nothing is installed.
        warnings.warn(
            "treadle.install() sets an asyncio event loop policy, and asyncio is deprecating "
            "policies; use treadle.run(main()) or "
            "asyncio.run(main(), loop_factory=treadle.new_event_loop) instead",
            DeprecationWarning,
            stacklevel=2,
        )
    asyncio.set_event_loop_policy(EventLoopPolicy())
