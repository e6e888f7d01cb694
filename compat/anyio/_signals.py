"""``anyio.open_signal_receiver`` on the loop's ``add_signal_handler``."""

from __future__ import annotations

import asyncio
from collections import deque
from signal import Signals
from types import TracebackType
from typing import Self

from treadle.structured import checkpoint


class SignalReceiver:
    """A ``with`` block during which the given signals queue up here instead of their handlers."""

    def __init__(self, signals: tuple[Signals, ...]) -> None:
        self._signals = signals
        self._loop = asyncio.get_running_loop()
        self._queue: deque[Signals] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._installed: list[Signals] = []

    def _deliver(self, signum: Signals) -> None:
        self._queue.append(signum)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def __enter__(self) -> Self:
        for sig in dict.fromkeys(self._signals):
            self._loop.add_signal_handler(sig, self._deliver, sig)
            self._installed.append(sig)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        for sig in self._installed:
            self._loop.remove_signal_handler(sig)
        self._installed.clear()

    def __aiter__(self) -> SignalReceiver:
        return self

    async def __anext__(self) -> Signals:
        await checkpoint()
        while not self._queue:
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._queue.popleft()
