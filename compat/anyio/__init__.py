"""treadle as an AnyIO backend: ``anyio.run(main, backend="treadle")``.

Importing ``treadle`` makes the name "treadle" known to AnyIO (``_register.py``); nothing of AnyIO
is imported until a program asks AnyIO for that backend, so treadle itself never needs AnyIO.
docs/anyio.md describes the backend and where it differs from AnyIO's asyncio backend.
"""

from __future__ import annotations

from ._register import BACKEND_NAME, register

__all__ = ["BACKEND_NAME", "register"]
