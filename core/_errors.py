"""Checks that raise asyncio's exact exceptions, so the wording lives in one place.

Each message here is the one asyncio raises on 3.11-3.13 for the same misuse; the differential
tests in tests/core compare ``type(exc)`` and ``str(exc)`` against asyncio's loop.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any, NoReturn

try:
    import ssl
except ImportError:  # pragma: no cover - Python built without ssl
    ssl = None  # type: ignore[assignment]  # the module or None; checked before use


def raise_closed() -> NoReturn:
    raise RuntimeError("Event loop is closed")


def raise_already_running() -> NoReturn:
    raise RuntimeError("This event loop is already running")


def raise_other_loop_running() -> NoReturn:
    raise RuntimeError("Cannot run the event loop while another loop is running")


def raise_wrong_thread() -> NoReturn:
    raise RuntimeError(
        "Non-thread-safe operation invoked on an event loop other than the current one"
    )


def check_callback(callback: Any, method: str) -> None:
    """asyncio checks callbacks only in debug mode (and always in a few places)."""
    if is_coroutine_callback(callback):
        raise TypeError(f"coroutines cannot be used with {method}()")
    if not callable(callback):
        raise TypeError(f"a callable object was expected by {method}(), got {callback!r}")


def _is_coroutine_function(fn: Any) -> bool:
    # asyncio also honours the legacy ``_is_coroutine`` marker set by @asyncio.coroutine-era code
    # and by unittest.mock's AsyncMock.
    return inspect.iscoroutinefunction(fn) or getattr(fn, "_is_coroutine", None) is not None


def check_not_ssl_socket(sock: Any) -> None:
    if ssl is not None and isinstance(sock, ssl.SSLSocket):
        raise TypeError("Socket cannot be of type SSLSocket")


def fileobj_to_fd(fileobj: Any) -> int:
    """An fd from an int or an object with ``fileno()``, with the errors of ``selectors``."""
    if isinstance(fileobj, int):
        fd = fileobj
    else:
        try:
            fd = int(fileobj.fileno())
        except (AttributeError, TypeError, ValueError):
            raise ValueError(f"Invalid file object: {fileobj!r}") from None
    if fd < 0:
        raise ValueError(f"Invalid file descriptor: {fd}")
    return fd


def is_coroutine_callback(callback: Any) -> bool:
    return asyncio.iscoroutine(callback) or _is_coroutine_function(callback)
