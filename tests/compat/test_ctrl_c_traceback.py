"""Ctrl-C on a real process: the traceback shows where the program was, as asyncio.run()'s does.

A child Python runs a program that waits in ``await asyncio.sleep(30)``; the test sends it a real
SIGINT and reads the traceback it prints. asyncio.run() is the oracle: its traceback names the
user's line (in the CancelledError it chains KeyboardInterrupt to). treadle.run()'s must too, and
must not end in treadle's own frames.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PROGRAM = textwrap.dedent(
    """\
    import asyncio
    import sys

    import treadle

    async def main() -> None:
        print("waiting", flush=True)
        await asyncio.sleep(30)  # the user's line

    if sys.argv[1] == "asyncio":
        asyncio.run(main())
    elif sys.argv[1] == "treadle-function":
        treadle.run(main)
    else:
        treadle.run(main())
    """
)


def _interrupted_traceback(tmp_path: Path, how: str, program: str = PROGRAM) -> str:
    script = tmp_path / "program.py"
    script.write_text(program)
    with subprocess.Popen(
        [sys.executable, str(script), how],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    ) as child:
        assert child.stdout is not None
        assert child.stdout.readline() == "waiting\n"
        child.send_signal(signal.SIGINT)
        _, stderr = child.communicate(timeout=30)
    # Python re-raises an uncaught KeyboardInterrupt as SIGINT, so the shell sees Ctrl-C.
    assert child.returncode == -signal.SIGINT, stderr
    return stderr


@pytest.mark.slow
@pytest.mark.parametrize("how", ["asyncio", "treadle-coroutine", "treadle-function"])
def test_ctrl_c_traceback_names_the_users_line(tmp_path: Path, how: str) -> None:
    stderr = _interrupted_traceback(tmp_path, how)
    assert stderr.rstrip().endswith("KeyboardInterrupt"), stderr
    assert "await asyncio.sleep(30)  # the user's line" in stderr, stderr
    if how != "asyncio":
        # One traceback, ending at the user's line (then asyncio.sleep's own), with no loop
        # internals and no treadle frame below the user's code.
        assert "During handling" not in stderr, stderr
        after_user_line = stderr.split("the user's line", 1)[1]
        frames_below = [line for line in after_user_line.splitlines() if 'File "' in line]
        assert frames_below, stderr
        assert all("asyncio" in line for line in frames_below), stderr  # asyncio.sleep's own
        assert "_under_root_scope" not in stderr, stderr
        assert "_scheduler.py" not in stderr, stderr


CLEANUP_PROGRAM = textwrap.dedent(
    """\
    import asyncio

    import treadle

    async def main() -> None:
        print("waiting", flush=True)
        try:
            await asyncio.sleep(30)  # where it was waiting
        finally:
            await asyncio.sleep(1)  # unshielded cleanup: cancelled again

    treadle.run(main)
    """
)


@pytest.mark.slow
def test_ctrl_c_with_cancelled_cleanup_shows_both_places(tmp_path: Path) -> None:
    # Level-triggered: the cleanup's await is cancelled too. The traceback ends there, and the
    # first cancellation, where the program was waiting, is chained above it.
    stderr = _interrupted_traceback(tmp_path, "", program=CLEANUP_PROGRAM)
    waiting = stderr.index("await asyncio.sleep(30)  # where it was waiting")
    handling = stderr.index("During handling of the above exception")
    cleanup = stderr.index("await asyncio.sleep(1)  # unshielded cleanup")
    assert waiting < handling < cleanup, stderr
    assert stderr.rstrip().endswith("KeyboardInterrupt"), stderr
