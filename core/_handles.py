"""Handles the loop hands out: asyncio's public ``Handle`` and ``TimerHandle``, set up cheaply.

Users check these with isinstance and call cancel(), cancelled() and when() on them, so we keep
asyncio's classes and their slots. What we change is construction: asyncio's ``Handle.__init__``
asks the loop ``get_debug()`` for every handle; our subclasses take that answer from the caller, and
in debug mode the loop builds asyncio's own classes so source tracebacks are recorded as usual.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from typing import Any

_copy_context = contextvars.copy_context


class ReadyHandle(asyncio.Handle):
    """A ``Handle`` for ``call_soon`` and I/O callbacks, built without the debug bookkeeping."""

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
            self._callback = None  # type: ignore[assignment]  # drop references early
            self._args = None  # type: ignore[assignment]

    def _repr_info(self) -> list[str]:
        # Reprs end up in logs: say "Handle", exactly as on asyncio's own loop.
        info: list[str] = super()._repr_info()  # type: ignore[misc]
        info[0] = "Handle"
        return info


class Timer(asyncio.TimerHandle):
    """A ``TimerHandle`` built without the debug bookkeeping.

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
                self._loop._scheduler.cancelled_timers += 1  # type: ignore[attr-defined]
            self._cancelled = True
            if self._loop._debug:  # type: ignore[attr-defined]
                self._repr = repr(self)
            self._callback = None  # type: ignore[assignment]
            self._args = None  # type: ignore[assignment]

    def _repr_info(self) -> list[str]:
        info: list[str] = super()._repr_info()  # type: ignore[misc]
        info[0] = "TimerHandle"
        return info
