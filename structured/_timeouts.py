"""move_on_after/at and fail_after/at: cancel scopes with a deadline.

Relative deadlines are computed when the function is called (AnyIO's rule; Trio >= 0.24 computes
them at ``with`` entry instead). Both happen on the same line in idiomatic code.
"""

from __future__ import annotations

import asyncio
import math
from types import TracebackType

from ._cancel import CancelScope


class FailScope(CancelScope):
    """A CancelScope that raises the builtin TimeoutError when its deadline cancelled it."""

    __slots__ = ()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        handled = super().__exit__(exc_type, exc, tb)
        if self._cancelled_caught:
            raise TimeoutError from exc  # as asyncio.timeout() chains it
        return handled


def _deadline_after(seconds: float) -> float:
    if math.isnan(seconds):
        raise ValueError("timeout must not be NaN")
    if seconds < 0:
        raise ValueError("timeout must be non-negative")
    return asyncio.get_running_loop().time() + seconds


def move_on_at(deadline: float, *, shield: bool = False) -> CancelScope:
    """A scope that silently cancels its body at loop time ``deadline``.

    After the block, ``scope.cancelled_caught`` tells whether it did.
    """
    return CancelScope(deadline=deadline, shield=shield)


def move_on_after(seconds: float, *, shield: bool = False) -> CancelScope:
    """A scope that silently cancels its body ``seconds`` from now (loop time)."""
    return CancelScope(deadline=_deadline_after(seconds), shield=shield)


def fail_at(deadline: float, *, shield: bool = False) -> CancelScope:
    """Like :func:`move_on_at`, but raise ``TimeoutError`` if the deadline cancelled the body."""
    return FailScope(deadline=deadline, shield=shield)


def fail_after(seconds: float, *, shield: bool = False) -> CancelScope:
    """Like :func:`move_on_after`, but raise ``TimeoutError`` if the body was cancelled."""
    return FailScope(deadline=_deadline_after(seconds), shield=shield)
