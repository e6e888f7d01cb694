"""TokenLedger: who holds a capacity limiter's tokens, and who waits for one, in arrival order.

The ledger itself never awaits and needs no loop: a borrower that must wait brings its own future,
and the ledger decides who gets each token that comes free and resolves that borrower's future.
``wait_for_token`` is the one awaiting step, shared by both limiters.
treadle's ``CapacityLimiter`` (structured/_threads.py, Trio's API) and the AnyIO backend's
(compat/anyio/_sync.py, AnyIO's API and error messages) both keep their tokens here; they differ
only in their argument checks, their errors and their checkpoints.

The trap both had to handle: a waiter's future can be cancelled (its task was cancelled) and
the task not have run its cleanup yet when a token comes free. ``hand_over`` skips such a
waiter; ``abandon`` gives back a token a waiter was handed just as it was cancelled.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Any

_NOT_HELD = "this borrower isn't holding any of this CapacityLimiter's tokens"


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

    def take(self, borrower: object, already_held: str) -> bool:
        """Give ``borrower`` a token if a newcomer may take one now (True), else False.

        Raises RuntimeError(``already_held``, each limiter's wording) when it holds one already.
        """
        if borrower in self.borrowers:
            raise RuntimeError(already_held)
        if not self.available():
            return False
        self.borrowers.add(borrower)
        return True

    def give_back(self, borrower: object) -> None:
        """``release``, raising RuntimeError when ``borrower`` holds no token."""
        if not self.release(borrower):
            raise RuntimeError(_NOT_HELD)

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


async def wait_for_token(ledger: TokenLedger, borrower: object) -> None:
    """Queue ``borrower`` on ``ledger`` until it is handed a token; cancelled, it gives it up."""
    waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    ledger.wait(borrower, waiter)
    try:
        await waiter
    except BaseException:
        ledger.abandon(borrower, waiter)
        raise
