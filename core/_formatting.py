"""How callbacks are named in messages: 'Exception in callback f(1) at file.py:12'.

The wording follows asyncio's, including the version difference: 3.13 shows a callback's
arguments only in debug mode (they may hold secrets), 3.11 and 3.12 always show them.
"""

from __future__ import annotations

import functools
import inspect
import reprlib
import sys
from collections.abc import Mapping, Sequence
from typing import Any

_ARGS_ONLY_IN_DEBUG = sys.version_info >= (3, 13)


def format_callback_source(func: Any, args: Sequence[Any], *, debug: bool) -> str:
    text = format_callback(func, args, None, debug=debug)
    source = function_source(func)
    if source is not None:
        text += f" at {source[0]}:{source[1]}"
    return text


def format_callback(
    func: Any,
    args: Sequence[Any] | None,
    kwargs: Mapping[str, Any] | None,
    *,
    debug: bool,
    suffix: str = "",
) -> str:
    if isinstance(func, functools.partial):
        suffix = _format_arguments(args, kwargs, debug=debug) + suffix
        return format_callback(func.func, func.args, func.keywords, debug=debug, suffix=suffix)
    name = getattr(func, "__qualname__", None) or getattr(func, "__name__", None)
    text = name if isinstance(name, str) else repr(func)
    return text + _format_arguments(args, kwargs, debug=debug) + suffix


def _format_arguments(
    args: Sequence[Any] | None, kwargs: Mapping[str, Any] | None, *, debug: bool
) -> str:
    if _ARGS_ONLY_IN_DEBUG and not debug:
        return "()"
    parts = [reprlib.repr(arg) for arg in args or ()]
    parts += [f"{key}={reprlib.repr(value)}" for key, value in (kwargs or {}).items()]
    return "(" + ", ".join(parts) + ")"


def function_source(func: Any) -> tuple[str, int] | None:
    func = inspect.unwrap(func)
    if inspect.isfunction(func):
        code = func.__code__
        return code.co_filename, code.co_firstlineno
    if isinstance(func, (functools.partial, functools.partialmethod)):
        return function_source(func.func)
    return None
