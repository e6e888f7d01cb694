"""Run mypy (strict settings from pyproject.toml) on the installed package's layout.

    python tools/typecheck.py                         # as configured: Python 3.11 semantics
    python tools/typecheck.py --python-version 3.13   # extra arguments go to mypy

mypy cannot follow the editable install's import hook (package-dir maps core/ -> treadle.core),
so it checks a tree of symlinks with the installed layout (see package_tree.py); pyproject's
[tool.mypy] points ``mypy_path`` there. Paths in the report are rewritten back to the
repository's (``core/_loop.py``, not ``build/typecheck/treadle/core/_loop.py``).
"""

from __future__ import annotations

import subprocess
import sys

from package_tree import ROOT, build_tree, real_path


def main(argv: list[str]) -> int:
    build_tree()
    command = [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), *argv]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    sys.stdout.write(real_path(result.stdout))
    sys.stderr.write(real_path(result.stderr))
    return result.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
