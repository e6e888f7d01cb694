"""Which variant of ``treadle.core`` runs: the pure-Python modules or the mypyc-compiled ones.

A compiled install (``TREADLE_COMPILE=1 pip install .``, see setup.py) puts an extension module
beside each compiled module's ``.py`` file, ``_scheduler.cpython-313-x86_64-linux-gnu.so`` next to
``_scheduler.py``. Python's path finder tries extension suffixes before ``.py``, so the compiled
module wins by default. ``TREADLE_PURE_PYTHON=1`` in the environment makes this module put a
finder at the front of ``sys.meta_path`` that answers for ``treadle.core.*`` modules with their
``.py`` file, so the extension modules are never loaded. It must run before the first
``treadle.core`` import: the root package imports it first.

Rejected: compiling under other module names (``treadle.core._scheduler_c``) and choosing in
each importer. mypyc resolves imports between compiled modules by their real names, so the two
variants would need two source trees; and every ``from ._scheduler import ...`` would grow a
branch.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Sequence
from types import ModuleType

_PREFIX = "treadle.core."


class PureSourceFinder:
    """A meta path finder that loads ``treadle.core`` submodules from their ``.py`` files."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if path is None or not fullname.startswith(_PREFIX):
            return None
        name = fullname.rpartition(".")[2]
        for folder in path:
            source = os.path.join(folder, name + ".py")
            if os.path.isfile(source):
                loader = importlib.machinery.SourceFileLoader(fullname, source)
                return importlib.util.spec_from_file_location(fullname, source, loader=loader)
        return None  # a subpackage (its __init__ is never compiled) or no such module


def pure_python_requested() -> bool:
    """Whether TREADLE_PURE_PYTHON asks for the pure modules (any value but "", "0")."""
    return os.environ.get("TREADLE_PURE_PYTHON", "") not in ("", "0")


def install_pure_finder() -> None:
    """Put the finder first in ``sys.meta_path`` (once)."""
    if not any(isinstance(finder, PureSourceFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, PureSourceFinder())


def core_is_compiled() -> bool:
    """Whether the loaded ``treadle.core`` scheduler is an extension module."""
    module = sys.modules.get("treadle.core._scheduler")
    origin = getattr(module, "__file__", None) or ""
    return origin.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))


if pure_python_requested():
    install_pure_finder()
