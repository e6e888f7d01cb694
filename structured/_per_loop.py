"""PerLoop: one object per event loop, made on first use and forgotten with the loop."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

_T = TypeVar("_T")


class PerLoop(Generic[_T]):
    """``make()``'s result for each loop that asks (e.g. its default thread limiter).

    Held by a weak reference to the loop, so a closed and dropped loop takes its object along.
    """

    __slots__ = ("_by_loop", "_make")

    def __init__(self, make: Callable[[], _T]) -> None:
        self._make = make
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _T] = (
            weakref.WeakKeyDictionary()
        )

    def get(self, loop: asyncio.AbstractEventLoop) -> _T:
        value = self._by_loop.get(loop)
        if value is None:
            value = self._by_loop[loop] = self._make()
        return value

    def pop(self, loop: asyncio.AbstractEventLoop) -> _T | None:
        """Forget ``loop``'s object and return it (None if it never made one)."""
        return self._by_loop.pop(loop, None)
