"""Which async library sniffio reports, in the places treadle decides it.

AnyIO (4.16 as of writing) still asks sniffio which library is running and routes every call by
the answer (it falls back to "asyncio" detection only when sniffio is not installed, and sniffio
is a treadle dependency). ``anyio.run(..., backend="treadle")`` and AnyIO's pytest runner set
sniffio's context variable to "treadle" for the run; asyncio Tasks copy it, so every task of the
run sees it. What is left for treadle to decide is the threads: a worker thread sees no library
(AnyIO's rule on every backend, so ``anyio.run()`` works inside one), and what a worker sends back
into the loop runs as "treadle". Plain asyncio code on a treadle loop, outside such a run, never
sees the variable set and sniffio answers "asyncio". docs/anyio.md explains the trade-off.
"""

from __future__ import annotations

import contextvars

import sniffio

TREADLE = "treadle"


def context_for_worker() -> contextvars.Context:
    """A copy of the current context in which sniffio finds no async library."""
    context = contextvars.copy_context()
    context.run(sniffio.current_async_library_cvar.set, None)
    return context


def context_for_loop() -> contextvars.Context:
    """A copy of the current context in which sniffio reports "treadle"."""
    context = contextvars.copy_context()
    context.run(sniffio.current_async_library_cvar.set, TREADLE)
    return context


def mark_treadle() -> None:
    """Report "treadle" from here on in the current context (a callback's own copy)."""
    sniffio.current_async_library_cvar.set(TREADLE)
