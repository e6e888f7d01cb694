"""TokenLedger: who holds a capacity limiter's tokens, and who waits for one, in arrival order.

Sans-IO: no loop and no awaiting. A borrower that must wait brings its own future and awaits it;
the ledger decides who gets each token that comes free and resolves that borrower's future.
treadle's ``CapacityLimiter`` (structured/_threads.py, Trio's API) and the AnyIO backend's
(compat/anyio/_sync.py, AnyIO's API and error messages) both keep their tokens here; they differ
only in their argument checks, their errors and their checkpoints.

The trap both had to handle: a waiter's future can be cancelled (its task was cancelled) and
the task not have run its cleanup yet when a token comes free. ``hand_over`` skips such a
waiter; ``abandon`` gives back a token a waiter was handed just as it was cancelled.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio


class TokenLedger:
    """The borrowers holding tokens and the FIFO queue of borrowers waiting for one."""

    __slots__ = ("borrowers", "total", "waiting")

    def __init__(self) -> None:
        self.total: float = 0  # how many tokens exist; the limiter checks what it may be
        self.borrowers: set[object] = set()
        # borrower -> the future that hands it a token, in arrival order
        self.waiting: OrderedDict[object, asyncio.Future[None]] = OrderedDict()

    def available(self) -> bool:
        """True when a newcomer may take a token now: one is free and nobody queues for it."""
        return not self.waiting and len(self.borrowers) < self.total

    def wait(self, borrower: object, waiter: asyncio.Future[Any]) -> None:
        """Queue ``borrower``; ``waiter`` gets a result when a token is handed to it."""
        self.waiting[borrower] = waiter

    def abandon(self, borrower: object, waiter: asyncio.Future[Any]) -> None:
        """``borrower`` stopped waiting (cancelled); a token it was handed meanwhile goes back."""
        self.waiting.pop(borrower, None)
        if waiter.done() and not waiter.cancelled():
            self.borrowers.discard(borrower)
            self.hand_over()

    def release(self, borrower: object) -> bool:
        """Give back ``borrower``'s token (False if it holds none) and pass it on."""
        try:
            self.borrowers.remove(borrower)
        except KeyError:
            return False
        self.hand_over()
        return True

    def hand_over(self) -> None:
        """Give free tokens to the first waiters, skipping any whose future is done already."""
        while self.waiting and len(self.borrowers) < self.total:
            borrower, waiter = self.waiting.popitem(last=False)
            if waiter.done():
                continue  # cancelled, and its task has not run its cleanup yet
            self.borrowers.add(borrower)
            waiter.set_result(None)
