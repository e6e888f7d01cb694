"""Happy Eyeballs (RFC 8305): staggered connection attempts, first success wins.

How it works: attempt 0 starts at once. The next attempt starts when ``delay`` seconds have
passed since the latest start, or as soon as the latest attempt fails, whichever comes first.
The first attempt to succeed wins; every other attempt is cancelled *and awaited*, so that when
``staggered_race`` returns no loser is still holding a half-open socket. A loser that succeeded
anyway (two connects completing in the same loop iteration) is handed to ``discard``, which
closes its socket.

Failures are the attempts' own business: an attempt records why it failed (create_connection
collects the OSErrors for its error message) and raises; the race only counts it as done. An
exception that is not a connection failure (not ``expected``) is a bug or a misuse, so it stops
the race and propagates, instead of disappearing into a list.

Address ordering (interleaving families, section 4) is done before the race by ``interleave``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeVar

_T = TypeVar("_T")


def interleave(addrinfos: Iterable[tuple[Any, ...]], first_family_count: int = 1) -> list[Any]:
    """Reorder getaddrinfo() results so that address families alternate (RFC 8305 section 4).

    The first family (that of the first result) gets ``first_family_count`` addresses in a row
    at the head, then families take turns, each keeping its own order: asyncio's interleave=.
    """
    by_family: dict[int, list[tuple[Any, ...]]] = {}
    for info in addrinfos:
        by_family.setdefault(info[0], []).append(info)
    queues = list(by_family.values())
    ordered: list[Any] = []
    if queues and first_family_count > 1:
        head = first_family_count - 1
        ordered.extend(queues[0][:head])
        del queues[0][:head]
    depth = max((len(queue) for queue in queues), default=0)
    for row in range(depth):
        ordered.extend(queue[row] for queue in queues if row < len(queue))
    return ordered


async def staggered_race(
    attempts: Sequence[Callable[[], Awaitable[_T]]],
    delay: float | None,
    discard: Callable[[_T], None],
    expected: type[BaseException] | tuple[type[BaseException], ...] = OSError,
) -> _T | None:
    """Run ``attempts`` staggered by ``delay`` (None: one after another); the winner or None."""
    loop = asyncio.get_running_loop()
    running: set[asyncio.Task[_T]] = set()
    started = 0
    latest: asyncio.Task[_T] | None = None
    next_start = loop.time()
    try:
        while True:
            if started < len(attempts) and (not running or loop.time() >= next_start):
                latest = loop.create_task(_call(attempts[started]))
                running.add(latest)
                started += 1
                next_start = loop.time() + (delay if delay is not None else float("inf"))
            if not running:
                return None  # every attempt failed
            timeout = None
            if started < len(attempts) and delay is not None:
                timeout = max(0.0, next_start - loop.time())
            done, _ = await asyncio.wait(
                running, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            for task in done:
                running.discard(task)
                if not task.cancelled():
                    exc = task.exception()
                    if exc is None:
                        return task.result()
                    if not isinstance(exc, expected):
                        raise exc
                if task is latest:
                    next_start = loop.time()  # the latest failed: start the next one now
    finally:
        await _cancel_losers(running, discard)


async def _call(attempt: Callable[[], Awaitable[_T]]) -> _T:
    return await attempt()


async def _cancel_losers(running: set[asyncio.Task[_T]], discard: Callable[[_T], None]) -> None:
    for task in running:
        task.cancel()
    if not running:
        return
    # Wait even if our own caller is being cancelled: a loser must close its socket first.
    await asyncio.wait(running)
    for task in running:
        if not task.cancelled() and task.exception() is None:
            discard(task.result())
