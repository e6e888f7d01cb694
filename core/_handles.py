"""Handles the loop hands out: asyncio's public ``Handle`` and ``TimerHandle``, set up cheaply.

Users check these with isinstance and call cancel(), cancelled() and when() on them, so we keep
asyncio's classes and their slots. What we change is construction: asyncio's ``Handle.__init__``
asks the loop ``get_debug()`` for every handle; our subclasses take that answer from the caller, and
in debug mode the loop builds asyncio's own classes so source tracebacks are recorded as usual.

Typing the slots: the loop reads and writes asyncio's private Handle slots (``_callback``,
``_context``, ``_scheduled``...), and typeshed declares only ``_cancelled`` and ``_args``.
``LoopHandle`` and ``LoopTimerHandle`` are asyncio's own classes at run time; for the type
checker they are subclasses that declare the slots' types. The scheduler, the fd registry and
these subclasses use them, and debug mode builds ``LoopHandle(...)`` (that is,
``asyncio.Handle(...)``), so the slots are typed everywhere without a cast or an ignore, and no
object changes at run time.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import traceback

    class LoopHandle(asyncio.Handle):
        """asyncio.Handle with its slots typed; asyncio.Handle itself at run time."""

        _callback: Callable[..., object]  # None once cancelled; never read after that
        _args: tuple[Any, ...]  # as _callback; typeshed says Sequence, the loop builds tuples
        _context: contextvars.Context
        _loop: asyncio.AbstractEventLoop
        _repr: str | None  # set on cancel() in debug mode, for logs
        _source_traceback: traceback.StackSummary | None  # recorded in debug mode only

    class LoopTimerHandle(asyncio.TimerHandle, LoopHandle):
        """asyncio.TimerHandle with its slots typed; asyncio.TimerHandle itself at run time."""

        _when: Any  # any number, as asyncio allows (a Decimal from call_at, say)
        # invariant: truthy while the handle sits in the loop's timer heap: True, or its rank
        # among timers that may share its deadline (2, 3, ...; _scheduler.py says why).
        _scheduled: int

else:
    LoopHandle = asyncio.Handle
    LoopTimerHandle = asyncio.TimerHandle

_copy_context = contextvars.copy_context


class ReadyHandle(LoopHandle):
    """A ``Handle`` for ``call_soon`` and I/O callbacks, built without the debug bookkeeping
    (``call_soon`` and ``call_soon_threadsafe`` set the same slots inline; keep them in step)."""

    __slots__ = ()

    def __init__(
        self,
        callback: Callable[..., object],
        args: tuple[Any, ...],
        loop: asyncio.AbstractEventLoop,
        context: contextvars.Context | None,
    ) -> None:
        self._callback = callback
        self._args = args
        self._loop = loop
        self._context = _copy_context() if context is None else context
        self._cancelled = False
        self._repr = None
        self._source_traceback = None

    def cancel(self) -> None:
        # asyncio's Handle.cancel(), in one frame: it asks loop.get_debug() through a method call.
        if not self._cancelled:
            self._cancelled = True
            if self._loop._debug:  # type: ignore[attr-defined]  # always our EventLoop
                self._repr = repr(self)  # keep the description for debug logs, as asyncio does
            # Drop references early, as asyncio does; the slots are typed for live handles.
            self._callback = None  # type: ignore[assignment]
            self._args = None  # type: ignore[assignment]

    def _repr_info(self) -> list[str]:
        # Reprs end up in logs: say "Handle", exactly as on asyncio's own loop.
        info: list[str] = super()._repr_info()  # type: ignore[misc]  # not in typeshed
        info[0] = "Handle"
        return info


class Timer(LoopTimerHandle):
    """A ``TimerHandle`` built without the debug bookkeeping (``call_later`` sets the same slots
    inline; keep the two in step).

    TimerHandle.cancel() reports back through ``loop._timer_handle_cancelled(handle)``; that name
    is asyncio's contract between the handle and its loop, so our loop implements it.
    """

    __slots__ = ()

    def __init__(
        self,
        when: float,
        callback: Callable[..., object],
        args: tuple[Any, ...],
        loop: asyncio.AbstractEventLoop,
        context: contextvars.Context | None,
    ) -> None:
        self._callback = callback
        self._args = args
        self._loop = loop
        self._context = _copy_context() if context is None else context
        self._cancelled = False
        self._repr = None
        self._source_traceback = None
        self._when = when
        self._scheduled = False

    def cancel(self) -> None:
        # TimerHandle.cancel() + loop._timer_handle_cancelled() + Handle.cancel() in one frame:
        # call_later+cancel churn is common (timeouts that did not fire) and this halves its cost.
        if not self._cancelled:
            if self._scheduled:
                self._loop._cancelled_timers[0] += 1  # type: ignore[attr-defined]
            self._cancelled = True
            if self._loop._debug:  # type: ignore[attr-defined]  # always our EventLoop
                self._repr = repr(self)
            # Drop references early, as asyncio does; the slots are typed for live handles.
            self._callback = None  # type: ignore[assignment]
            self._args = None  # type: ignore[assignment]

    def __lt__(self, other: object) -> bool:
        # The timer heap's comparison (it holds the handles, as asyncio's does). asyncio's
        # isinstance() test first costs a fifth of a heap push; an object without a deadline
        # still gets NotImplemented, so `<` raises the same TypeError.
        try:
            return self._when < other._when  # type: ignore[attr-defined,no-any-return]  # see above
        except AttributeError:
            return NotImplemented

    def _repr_info(self) -> list[str]:
        info: list[str] = super()._repr_info()  # type: ignore[misc]  # not in typeshed
        info[0] = "TimerHandle"
        return info
