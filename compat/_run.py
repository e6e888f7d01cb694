"""Ways to run asyncio code on treadle: ``run()``, ``loop_factory``, and the legacy ``install()``.

All three end in ``treadle.core.new_event_loop``. ``run()`` is built on ``asyncio.Runner`` (3.11+),
so task cancellation at exit, async generator finalization, executor shutdown and Ctrl-C handling
are asyncio's own, identical to ``asyncio.run()``; only the loop is ours.
"""

from __future__ import annotations

import asyncio
import sys
import warnings
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from treadle.core import EventLoop, new_event_loop

from ._policy import EventLoopPolicy

__all__ = ["install", "new_event_loop", "run"]

_T = TypeVar("_T")


def run(coro: Coroutine[Any, Any, _T], *, debug: bool | None = None) -> _T:
    """Run ``coro`` to completion on a new treadle loop and return its result.

    The treadle counterpart of ``asyncio.run()``: same steps, same errors. Raises
    ``RuntimeError`` when called from a running event loop and ``ValueError`` when ``coro`` is
    not a coroutine. ``debug`` sets the loop's debug mode; None leaves the default (on with
    ``PYTHONASYNCIODEBUG=1`` or ``-X dev``).
    """
    # Fail before creating anything, as asyncio.run() does; asyncio's wording, so code written
    # against asyncio.run() sees the same error from its drop-in replacement.
    if _loop_is_running():
        raise RuntimeError("asyncio.run() cannot be called from a running event loop")
    with asyncio.Runner(debug=debug, loop_factory=_loop_factory()) as runner:
        return runner.run(coro)


def _loop_is_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _loop_factory() -> Callable[[], EventLoop]:
    """The factory run() hands to asyncio.Runner.

    run()'s loop options (a poller, a clock) will become arguments here, bound into the factory.
    """
    return new_event_loop


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
