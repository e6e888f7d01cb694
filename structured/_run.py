"""run(): a treadle loop for one Trio-style program, with Ctrl-C delivered as cancellation.

KeyboardInterrupt: asyncio.Runner answers SIGINT with ``main_task.cancel()``, which no shield can
stop. Here SIGINT cancels a root cancel scope around the main coroutine instead, so the unwinding
is level-triggered and respects shielded scopes; once the root scope has caught it, run() raises
KeyboardInterrupt, after every ``finally`` ran.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from treadle.core import Clock, new_event_loop

from ._cancel import CancelScope
from ._introspection import track_task_creators

_T = TypeVar("_T")


def run(
    async_fn_or_coro: Callable[..., Awaitable[_T]] | Coroutine[Any, Any, _T],
    *args: Any,
    clock: Clock | None = None,
    poller: str | None = None,
) -> _T:
    """Run ``async_fn(*args)`` (or a coroutine) on a new treadle loop and return its result.

    ``clock`` replaces real time (``treadle.testing.MockClock()``), ``poller`` picks the OS API.
    Leftover tasks are cancelled, async generators and the default executor shut down, and the
    loop closed, as ``asyncio.run()`` does. Ctrl-C cancels the program through a root cancel
    scope, then raises KeyboardInterrupt.
    """
    if isinstance(async_fn_or_coro, Coroutine):
        if args:
            raise TypeError("pass either a coroutine or an async function and its arguments")
        coro: Coroutine[Any, Any, _T] = async_fn_or_coro
    else:
        coro = async_fn_or_coro(*args)  # type: ignore[assignment]  # an async fn's coroutine
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        coro.close()
        raise RuntimeError("treadle.structured.run() cannot be called from a running event loop")
    loop = new_event_loop(poller=poller, clock=clock)
    track_task_creators(loop)
    root = CancelScope()
    interrupted = False

    def on_sigint() -> None:
        nonlocal interrupted
        interrupted = True
        root.cancel()

    async def main() -> _T:
        with root:
            return await coro
        raise KeyboardInterrupt  # only reached when the root scope caught a cancellation

    catch_sigint = (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    )
    try:
        if catch_sigint:
            loop.add_signal_handler(signal.SIGINT, on_sigint)
        result: _T = loop.run_until_complete(main())
        if interrupted:
            raise KeyboardInterrupt
        return result
    finally:
        try:
            if catch_sigint:
                loop.remove_signal_handler(signal.SIGINT)
            _cancel_leftovers(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            loop.close()


def _cancel_leftovers(loop: asyncio.AbstractEventLoop) -> None:
    tasks = asyncio.all_tasks(loop)
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
