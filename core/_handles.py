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
