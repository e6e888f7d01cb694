"""treadle.compiled and TREADLE_PURE_PYTHON: which variant of treadle.core a process runs.

The same tests pass on a pure install (compiled is False either way) and on a compiled one
(``TREADLE_COMPILE=1 pip install .``), where the environment variable must bring back the
``.py`` modules. Each check runs in a fresh interpreter: the choice is made at first import.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import treadle

_REPORT = """
import json, sys, treadle
core = {name: getattr(module, "__file__", None) or "" for name, module in sys.modules.items()
        if name.startswith("treadle.core.")}
print(json.dumps({"compiled": treadle.compiled, "files": core}))
"""


def _report(pure: str | None) -> dict[str, object]:
    env = {key: value for key, value in os.environ.items() if key != "TREADLE_PURE_PYTHON"}
    if pure is not None:
        env["TREADLE_PURE_PYTHON"] = pure
    out = subprocess.run(
        [sys.executable, "-c", _REPORT], env=env, capture_output=True, text=True, check=True
    ).stdout
    result: dict[str, object] = json.loads(out)
    return result


def test_compiled_is_a_bool_matching_the_loaded_scheduler() -> None:
    assert isinstance(treadle.compiled, bool)
    scheduler_file = sys.modules["treadle.core._scheduler"].__file__ or ""
    assert treadle.compiled == (not scheduler_file.endswith(".py"))


def test_pure_python_environment_variable_loads_only_py_modules() -> None:
    report = _report("1")
    assert report["compiled"] is False
    files = report["files"]
    assert isinstance(files, dict)
    assert files, "treadle.core submodules were imported"
    assert all(path.endswith(".py") for path in files.values()), files


def test_pure_python_zero_means_not_requested() -> None:
    # "0" and "" leave the default, whichever variant is installed.
    assert _report("0")["compiled"] == _report(None)["compiled"] == treadle.compiled
