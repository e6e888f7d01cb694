"""From ``fn, *args`` to a coroutine, with a clear error for each way of getting it wrong.

``nursery.start_soon`` and ``nursery.start`` take an async function and its arguments, as Trio
does. Three mistakes are common, and each gets its own message (trio's ``coroutine_or_error`` in
src/trio/_util.py taught us which ones matter):

- ``start_soon(work())``: a coroutine object instead of the function. We close it, so Python's
  "coroutine ... was never awaited" warning does not follow the error, and show the right call.
- ``start_soon(sync_fn)``: a plain function; it has already run by the time we can tell.
- ``start_soon(fn)`` where ``fn`` returns some other awaitable (a Future): say so.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Callable, Coroutine
from types import CoroutineType
from typing import Any

__all__ = ["coroutine_or_error"]


def coroutine_or_error(
    call: str, fn: object, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Coroutine[Any, Any, Any]:
    """Call ``fn(*args, **kwargs)`` and return its coroutine, or raise TypeError saying why not.

    ``call`` is how the user spelled the call, for messages: ``"nursery.start_soon"``.
    """
    # A coroutine object is not callable, so the common case pays one callable() check only.
    if not callable(fn):
        if inspect.isawaitable(fn):
            raise _awaitable_passed(call, fn)
        raise TypeError(f"'{type(fn).__name__}' object is not callable")  # Python's own words
    result = fn(*args, **kwargs)
    if type(result) is CoroutineType or asyncio.iscoroutine(result):
        return result
    raise _not_async(call, fn, result)


def _awaitable_passed(call: str, awaitable: object) -> TypeError:
    if not isinstance(awaitable, Coroutine):
        return TypeError(
            f"{call}() expected an async function, but got {awaitable!r}, an awaitable that "
            f"is not a function; pass an async function and its arguments: "
            f"{call}(fn, *args)"
        )
    name = getattr(awaitable, "__name__", "work")
    awaitable.close()  # it can never run now; closing it silences "was never awaited"
    return TypeError(
        f"{call}() expected an async function, but got a coroutine object {awaitable!r}\n\n"
        f"Probably you did something like:\n\n"
        f"  {call}({name}(...))  # incorrect!\n\n"
        f"Instead, pass the function and its arguments (notice the parentheses!):\n\n"
        f"  {call}({name}, ...)  # correct!"
    )


def _not_async(call: str, fn: Callable[..., Any], result: object) -> TypeError:
    name = _function_name(fn)
    if inspect.isawaitable(result):
        return TypeError(
            f"{call}() expected an async function, but {name} returned {result!r}, an "
            f"awaitable that is not a coroutine; wrap it in an 'async def' function that awaits it"
        )
    return TypeError(
        f"{call}() expected an async function, but {name} appears to be synchronous "
        f"(it returned {result!r}); define it with 'async def'"
    )


def _function_name(fn: Callable[..., Any]) -> str:
    while isinstance(fn, functools.partial):
        fn = fn.func
    name = getattr(fn, "__qualname__", None)
    return repr(name) if isinstance(name, str) else repr(fn)
