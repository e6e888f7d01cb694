"""The one place that touches AnyIO's internals: how AnyIO finds a backend by its name.

AnyIO has no public plug-in point for backends (its maintainers declined one). What it does, in
``anyio._core._eventloop.get_async_backend`` (4.x), is ``import_module(f"anyio._backends._{name}")``
and read that module's ``backend_class``. So "registering" the backend means answering that one
import: a meta path finder that knows exactly the module name ``anyio._backends._treadle`` and
builds it from ``treadle.compat.anyio._backend``. Nothing of AnyIO's code is patched, no module of
AnyIO is imported by treadle until a program asks AnyIO for the backend, and every other import
passes through the finder untouched (one string comparison).

The same private module keeps two more things a backend cannot do without and that AnyIO's own
backends reach the same way: ``claim_worker_thread`` (how ``anyio.from_thread`` in a worker thread
finds its way back to the loop) and ``threadlocals`` (the worker's cancel scope for
``from_thread.check_cancelled``). They are imported here and nowhere else.

The backend was written against AnyIO 4.14 up to 5 (``SUPPORTED``; 4.14 added TaskHandle and
``TaskGroup.create_task``, which it implements); with an AnyIO outside that range the lookup fails
with a RuntimeError that says so, rather than misbehaving later.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

BACKEND_NAME = "treadle"
_MODULE = f"anyio._backends._{BACKEND_NAME}"
# [lowest, first unsupported): AnyIO versions whose backend lookup and AsyncBackend we match.
SUPPORTED = ((4, 14), (5, 0))


class _BackendFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Answers the import of ``anyio._backends._treadle``, and no other."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != _MODULE:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None  # the default: a plain module object, filled by exec_module

    def exec_module(self, module: ModuleType) -> None:
        check_anyio_version()
        from ._backend import TreadleBackend

        module.backend_class = TreadleBackend  # type: ignore[attr-defined]  # AnyIO reads it


_finder = _BackendFinder()


def register() -> None:
    """Make ``backend="treadle"`` resolvable by AnyIO; idempotent. ``import treadle`` calls it."""
    if _finder not in sys.meta_path:
        sys.meta_path.append(_finder)


def anyio_version() -> tuple[int, ...]:
    from importlib.metadata import version

    parts: list[int] = []
    for piece in version("anyio").split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def check_anyio_version(found: tuple[int, ...] | None = None) -> None:
    """RuntimeError unless the installed AnyIO (or ``found``) is one this backend supports."""
    if found is None:
        found = anyio_version()
    low, high = SUPPORTED
    if not low <= found < high:
        raise RuntimeError(
            f"treadle's AnyIO backend supports AnyIO {low[0]}.{low[1]} up to (not including) "
            f"{high[0]}.{high[1]}, but AnyIO {'.'.join(map(str, found))} is installed; use "
            "backend='asyncio' with backend_options={'loop_factory': treadle.new_event_loop}, "
            "which needs nothing from AnyIO's internals"
        )


def claim_worker_thread(backend_class: type[Any], loop: object) -> Any:
    """AnyIO's context manager that marks the calling thread as a worker of ``loop``."""
    from anyio._core._eventloop import claim_worker_thread as claim

    return claim(backend_class, loop)


def worker_threadlocals() -> Any:
    """AnyIO's per-thread state, where ``from_thread`` looks for the worker's token."""
    from anyio._core._eventloop import threadlocals

    return threadlocals
