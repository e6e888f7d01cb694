"""Run import-linter's contracts (pyproject.toml, [tool.importlinter]) on the installed layout.

    python tools/importcheck.py        # extra arguments go to lint-imports

import-linter (through grimp) finds ``treadle`` with Python's import system but then lists its
modules by walking the package's folder. Through the editable install that folder is src/treadle,
which holds no core/structured/compat, hence "Missing layer 'treadle.compat'". Putting the
symlink tree of package_tree.py first on sys.path makes ``treadle`` resolve to a folder that does
hold them. The import graph is the same one Python sees: the links point at the real files.
"""

from __future__ import annotations

import os
import subprocess
import sys

from package_tree import ROOT, build_tree, real_path

_RUN_LINT_IMPORTS = (
    "import sys; from importlinter.cli import lint_imports_command as c; sys.exit(c())"
)


def main(argv: list[str]) -> int:
    tree = build_tree()
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(tree), os.environ.get("PYTHONPATH")])),
    )
    cache = ROOT / "build" / "import-linter-cache"
    command = [
        sys.executable,
        "-c",
        _RUN_LINT_IMPORTS,
        "--no-logo",
        "--cache-dir",
        str(cache),
        *argv,
    ]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    sys.stdout.write(real_path(result.stdout))
    sys.stderr.write(real_path(result.stderr))
    return result.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
