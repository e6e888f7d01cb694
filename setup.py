"""Build hook: the optional mypyc-compiled variant of treadle.core.

Everything declarative lives in pyproject.toml; this file exists only for the compiled build.

    pip install .                      # pure Python (the default and the reference)
    TREADLE_COMPILE=1 pip install .    # also compiles the modules in COMPILED_MODULES with mypyc

mypyc names a module after its place in a package tree, and the repository's folders are not in
the installed layout (pyproject's package-dir maps core/ -> treadle.core). So the compiler reads
the same files through tools/package_tree.py's tree of symlinks (build/typecheck/treadle/...),
where core/_scheduler.py is treadle/core/_scheduler.py. The pure .py files are installed beside
the extension modules either way: TREADLE_PURE_PYTHON=1 at run time imports them instead
(src/treadle/_variant.py says how).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

from setuptools import setup

ROOT = Path(__file__).resolve().parent
MYPY_REQUIREMENT = "mypy>=1.10"  # as in the lint extra; mypyc ships with it

# An explicit list, hot paths first: a module joins only once the whole suite passes compiled.
# Left out on purpose (docs/design.md, "The compiled build"):
# - core/_loop.py, core/_sockops.py: their async methods await futures and coroutines, and a
#   mypyc coroutine forwards a cancellation with the three-argument throw(), which warns
#   (DeprecationWarning) on 3.12+ (mypyc/mypyc#1214). The loop's public methods also take any
#   argument and let asyncio's own error surface, where mypyc would check the annotation first.
# - core/transports/_base.py, _stream.py, _datagram.py: they derive from asyncio's transport
#   classes (users check isinstance), and mypyc refuses __slots__ on such classes, which would
#   cost every connection a __dict__.
# - core/tls/, core/subprocess/: not until their owners' suites pass compiled.
COMPILED_MODULES = [
    "core/_scheduler.py",
    "core/_fdregistry.py",
    "core/poll/_epoll.py",
    "core/poll/_poll.py",
    "core/poll/_select.py",
    "core/transports/_buffer.py",
    "core/transports/_fdio.py",
    "core/_heap.py",
]


def compiled_extensions() -> list[Any]:
    """mypyc's extension modules (one per module, plus the shared library they all use)."""
    sys.path.insert(0, str(ROOT / "tools"))
    from mypyc.build import mypycify
    from package_tree import build_tree

    tree = build_tree()
    paths = [str(tree / "treadle" / module) for module in COMPILED_MODULES]
    # The type check follows imports up to treadle/__init__.py and so into compat/, which imports
    # sniffio, AnyIO and pytest; pip's isolated build environment has none of them. Their errors
    # there are not ours to report at build time (tools/lint.sh checks compat/ with everything
    # installed), so they are silenced; the compiled modules themselves are still checked.
    return mypycify(
        [*paths, "--config-file", str(ROOT / "pyproject.toml"), "--follow-imports=silent"],
        opt_level=os.environ.get("TREADLE_COMPILE_OPT", "3"),
        multi_file=False,
    )


def forget_earlier_builds() -> None:
    """Remove setuptools' staging folders (build/lib.*, build/temp.*, build/bdist.*).

    setuptools packs whatever its staging folder holds: after a compiled build, a plain
    `pip install .` would ship the old extension modules, and a module taken off
    COMPILED_MODULES would stay compiled.
    """
    for stale in (
        *ROOT.glob("build/lib*"),
        *ROOT.glob("build/temp.*"),
        *ROOT.glob("build/bdist.*"),
    ):
        shutil.rmtree(stale, ignore_errors=True)


def mypyc_available() -> bool:
    try:
        import mypyc.build  # noqa: F401
    except ImportError:
        return False
    return True


def builds_code() -> bool:
    """Whether setuptools was asked to build (not just to write metadata, which pip asks first)."""
    return any(command in sys.argv for command in _BUILD_COMMANDS)


_BUILD_COMMANDS = ("build", "build_ext", "bdist_wheel", "editable_wheel", "develop", "install")

forget_earlier_builds()
if os.environ.get("TREADLE_COMPILE") != "1":
    setup()
elif not mypyc_available():
    # pip's isolated build environment has only [build-system]'s requirements: setuptools answers
    # pip's "what else do you need?" (get_requires_for_build_wheel) with setup_requires, so pip
    # installs mypy there and runs this file again, now with mypyc importable. A plain
    # `pip install .` never downloads mypy.
    setup(setup_requires=[MYPY_REQUIREMENT])
elif not builds_code():
    setup()  # metadata only: mypyc would type-check and generate C for nothing
else:
    setup(ext_modules=compiled_extensions())
