"""treadle's bridge to code written for asyncio: ``run()``, ``loop_factory``, the event loop policy.

This layer may use both ``treadle.core`` and ``treadle.structured``; neither of them imports it.
"""

from __future__ import annotations

from ._policy import EventLoopPolicy
from ._run import install, new_event_loop, run
from .anyio import register as _register_anyio_backend

# `import treadle` makes anyio.run(..., backend="treadle") work; AnyIO itself is imported only
# when a program asks it for that backend (compat/anyio/_register.py).
_register_anyio_backend()

__all__ = ["EventLoopPolicy", "install", "new_event_loop", "run"]
