"""Ways to run asyncio code on treadle: ``run()``, ``loop_factory``, and the legacy ``install()``.

All three end in ``treadle.core.new_event_loop``. ``run()`` is built on ``asyncio.Runner`` (3.11+),
so task cancellation at exit, async generator finalization and executor shutdown are asyncio's
own, identical to ``asyncio.run()``. Two things are ours: the loop, and Ctrl-C, which cancels a
root cancel scope so that shielded cleanup is respected (see ``run``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

from treadle.core import Clock, EventLoop, new_event_loop
from treadle.structured import CancelScope

from ._policy import EventLoopPolicy

__all__ = ["install", "new_event_loop", "run"]

_T = TypeVar("_T")


def run(
    coro: Coroutine[Any, Any, _T], *, debug: bool | None = None, clock: Clock | None = None
) -> _T:
    """Run ``coro`` to completion on a new treadle loop and return its result.

    The treadle counterpart of ``asyncio.run()``: same steps, same errors. Raises
    ``RuntimeError`` when called from a running event loop and ``ValueError`` when ``coro`` is
    not a coroutine. ``debug`` sets the loop's debug mode; None leaves the default (on with
    ``PYTHONASYNCIODEBUG=1`` or ``-X dev``). ``clock`` replaces real time, e.g. with
    ``treadle.testing.MockClock()``.

    Ctrl-C differs from asyncio.run() in one way: it cancels a cancel scope around ``coro``
    instead of calling ``task.cancel()``, so the program unwinds level-triggered and shielded
    scopes (``CancelScope(shield=True)``) finish their work; then KeyboardInterrupt is raised.
    """
    # Fail before creating anything, as asyncio.run() does; asyncio's wording, so code written
    # against asyncio.run() sees the same error from its drop-in replacement.
    if _loop_is_running():
        raise RuntimeError("asyncio.run() cannot be called from a running event loop")
    if not asyncio.iscoroutine(coro):
        raise ValueError(f"a coroutine was expected, got {coro!r}")
    with asyncio.Runner(debug=debug, loop_factory=_loop_factory(clock)) as runner:
        interrupt = _CtrlC(runner)
        with interrupt.installed():
            return runner.run(_under_root_scope(interrupt, coro))


async def _under_root_scope(interrupt: _CtrlC, coro: Coroutine[Any, Any, _T]) -> _T:
    with interrupt.root:
        return await coro
    # Only Ctrl-C cancels the root scope; it caught that cancellation, so the program is done.
    raise KeyboardInterrupt


class _CtrlC:
    """SIGINT as cancellation of a root scope (first Ctrl-C) or KeyboardInterrupt (second).

    asyncio.Runner answers SIGINT with ``main_task.cancel()``, which no shield can stop. Runner
    installs its handler only when SIGINT still has Python's default one, so installing ours
    first replaces it; we then restore whatever was there.
    """

    def __init__(self, runner: asyncio.Runner) -> None:
        self._runner = runner
        self.root = CancelScope()
        self.count = 0

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        if (
            threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
        ):
            yield  # someone else handles Ctrl-C (or cannot, off the main thread): leave it be
            return
        previous = signal.signal(signal.SIGINT, self._on_sigint)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def _on_sigint(self, signum: int, frame: object) -> None:
        self.count += 1
        loop = self._runner.get_loop()
        if self.count == 1 and not loop.is_closed():
            # Runs in the main thread between two bytecodes, possibly inside the loop itself:
            # only the thread-safe entry point may touch the loop from here.
            loop.call_soon_threadsafe(self.root.cancel)
            return
        raise KeyboardInterrupt


def _loop_is_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _loop_factory(clock: Clock | None = None) -> Callable[[], EventLoop]:
    """The factory run() hands to asyncio.Runner, with run()'s loop options bound in."""
    if clock is None:
        return new_event_loop
    return functools.partial(new_event_loop, clock=clock)


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
