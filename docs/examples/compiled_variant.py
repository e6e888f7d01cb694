"""Which variant of treadle's core runs: mypyc-compiled or pure Python.

`TREADLE_COMPILE=1 pip install .` builds the compiled variant; a plain install is pure Python.
`treadle.compiled` says which one this process imported, and `TREADLE_PURE_PYTHON=1` in the
environment forces the pure modules even where compiled ones are installed (the choice is made
when treadle is first imported, so it is shown here in a child process). Both run the same code
with the same results; the output is the same on either kind of install.
"""

from __future__ import annotations

import os
import subprocess
import sys

import treadle


async def main() -> str:
    return "same result"


print("treadle.compiled is a bool:", isinstance(treadle.compiled, bool))
print("this process:", treadle.run(main()))

child = "import treadle; print('pure child: compiled =', treadle.compiled)"
env = {**os.environ, "TREADLE_PURE_PYTHON": "1"}
done = subprocess.run([sys.executable, "-c", child], env=env, capture_output=True, text=True)
print(done.stdout.strip())

# Expected output:
# treadle.compiled is a bool: True
# this process: same result
# pure child: compiled = False
