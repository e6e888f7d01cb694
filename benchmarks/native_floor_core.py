"""The least a compiled loop can do to run asyncio's tasks: built with mypyc by native_floor.py.

A native handle (four fields, no ``asyncio.Handle`` base, so no ``isinstance`` compatibility),
a ``call_soon`` with asyncio's signature, and a run loop that pops and runs handles until the
queue is empty: no poll, no timers, no closed or debug checks. Nothing in treadle imports this
module; it is the measuring stick for issue 12's compiled targets (native_floor.py says how).
"""

from __future__ import annotations

import contextvars
from collections import deque
from typing import Any

_copy_context = contextvars.copy_context


class NativeHandle:
    callback: Any
    args: Any
    context: contextvars.Context
    cancelled: bool

    def __init__(self, callback: Any, args: Any, context: contextvars.Context) -> None:
        self.callback = callback
        self.args = args
        self.context = context
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class NativeQueue:
    """``call_soon`` appends a native handle; ``run`` runs them in order until none is left."""

    def __init__(self) -> None:
        self.ready: deque[NativeHandle] = deque()

    def call_soon(self, callback: Any, *args: Any, context: Any = None) -> NativeHandle:
        handle = NativeHandle(callback, args, _copy_context() if context is None else context)
        self.ready.append(handle)
        return handle

    def run(self) -> None:
        ready = self.ready
        while ready:
            handle = ready.popleft()
            if handle.cancelled:
                continue
            args = handle.args
            if args:
                handle.context.run(handle.callback, *args)
            else:
                handle.context.run(handle.callback)
