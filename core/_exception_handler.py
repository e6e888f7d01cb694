"""The loop's exception handler: contexts, the default handler's log format, and the fallbacks.

Everything that goes wrong where no caller can catch it (a failing callback, a transport error, an
async generator failing to close) ends here as a context dict with asyncio's keys: 'message',
'exception', 'handle', 'future', 'task', 'protocol', 'transport', 'socket', 'asyncgen'. The default
handler logs to the 'asyncio' logger in asyncio's format so existing logging setups keep working.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import traceback
from collections.abc import Callable
from typing import Any

from ._formatting import format_callback_source
from ._handles import LoopHandle

logger = logging.getLogger("asyncio")

_RUN_HANDLER_IN_OWNER_CONTEXT = sys.version_info >= (3, 12)

Handler = Callable[[asyncio.AbstractEventLoop, dict[str, Any]], object]


def callback_error_context(
    handle: LoopHandle, exc: BaseException, *, debug: bool
) -> dict[str, Any]:
    source = format_callback_source(handle._callback, handle._args, debug=debug)
    context: dict[str, Any] = {
        "message": f"Exception in callback {source}",
        "exception": exc,
        "handle": handle,
    }
    if handle._source_traceback:
        context["source_traceback"] = handle._source_traceback
    return context


def log_context(context: dict[str, Any], current_handle: LoopHandle | None) -> None:
    """What ``loop.default_exception_handler`` does: one error record, extra keys as lines."""
    message = context.get("message") or "Unhandled exception in event loop"
    exception = context.get("exception")
    exc_info: Any = False
    if exception is not None:
        exc_info = (type(exception), exception, exception.__traceback__)
    if (
        "source_traceback" not in context
        and current_handle is not None
        and current_handle._source_traceback
    ):
        context["handle_traceback"] = current_handle._source_traceback
    lines = [message]
    for key in sorted(context):
        if key in ("message", "exception"):
            continue
        lines.append(f"{key}: {_format_value(key, context[key])}")
    logger.error("\n".join(lines), exc_info=exc_info)


def _format_value(key: str, value: Any) -> str:
    if key == "source_traceback":
        return "Object created at (most recent call last):\n" + _stack_text(value)
    if key == "handle_traceback":
        return "Handle created at (most recent call last):\n" + _stack_text(value)
    return repr(value)


def _stack_text(frames: Any) -> str:
    return "".join(traceback.format_list(frames)).rstrip()


def call_handler(
    loop: asyncio.AbstractEventLoop, handler: Handler | None, context: dict[str, Any]
) -> None:
    """``loop.call_exception_handler``: the user's handler, else the default, never raising."""
    if handler is None:
        try:
            loop.default_exception_handler(context)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException:
            # A subclass may override default_exception_handler; its failure must not escape.
            logger.error("Exception in default exception handler", exc_info=True)
        return
    try:
        owner_context = _owner_context(context)
        if owner_context is not None:
            owner_context.run(handler, loop, context)
        else:
            handler(loop, context)
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as exc:
        try:
            loop.default_exception_handler(
                {
                    "message": "Unhandled error in exception handler",
                    "exception": exc,
                    "context": context,
                }
            )
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException:
            logger.error(
                "Exception in default exception handler while handling an unexpected error "
                "in custom exception handler",
                exc_info=True,
            )


def _owner_context(context: dict[str, Any]) -> Any:
    # asyncio (3.12+) runs a custom handler in the contextvars Context of the task, future or
    # handle the error belongs to, so handlers can read context variables of the failing code.
    if not _RUN_HANDLER_IN_OWNER_CONTEXT:
        return None
    owner = None
    for key in ("task", "future", "handle"):
        owner = context.get(key)
        if owner is not None:
            break
    get_context = getattr(owner, "get_context", None)
    if get_context is None:
        return None
    ctx = get_context()
    return ctx if hasattr(ctx, "run") else None
