"""Finalization of async generators that were not exhausted (PEP 525 hooks).

While the loop runs, it installs ``sys`` async-generator hooks: the first iteration records the
generator, and the garbage collector's finalizer schedules ``aclose()`` as a task on the loop.
``shutdown_asyncgens`` closes whatever is still alive, reporting failures to the exception handler.
"""

from __future__ import annotations

import asyncio
import sys
import warnings
import weakref
from collections.abc import AsyncGenerator
from typing import Any


class AsyncGenTracker:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._alive: weakref.WeakSet[AsyncGenerator[Any, Any]] = weakref.WeakSet()
        self._shutdown_called = False
        self._saved_hooks: Any = None

    def install_hooks(self) -> None:
        self._saved_hooks = sys.get_asyncgen_hooks()
        sys.set_asyncgen_hooks(firstiter=self._firstiter, finalizer=self._finalizer)

    def restore_hooks(self) -> None:
        if self._saved_hooks is not None:
            sys.set_asyncgen_hooks(*self._saved_hooks)
            self._saved_hooks = None

    def _firstiter(self, agen: AsyncGenerator[Any, Any]) -> None:
        if self._shutdown_called:
            warnings.warn(
                f"asynchronous generator {agen!r} was scheduled after "
                f"loop.shutdown_asyncgens() call",
                ResourceWarning,
                stacklevel=2,
                source=self._loop,
            )
        self._alive.add(agen)

    def _finalizer(self, agen: AsyncGenerator[Any, Any]) -> None:
        self._alive.discard(agen)
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._loop.create_task, agen.aclose())

    async def shutdown(self) -> None:
        self._shutdown_called = True
        if not len(self._alive):
            return
        closing = list(self._alive)
        self._alive.clear()
        results = await asyncio.gather(*[agen.aclose() for agen in closing], return_exceptions=True)
        for result, agen in zip(results, closing, strict=True):
            if isinstance(result, Exception):
                self._loop.call_exception_handler(
                    {
                        "message": f"an error occurred during closing of "
                        f"asynchronous generator {agen!r}",
                        "exception": result,
                        "asyncgen": agen,
                    }
                )
