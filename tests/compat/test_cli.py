"""``python -m treadle``: --help says what it does, ``bench`` runs the speed check alone.

Each runs as a real ``python -m treadle`` from an empty directory, so the installed package is
what runs (the plain demo is tested in test_run.py).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import treadle


def _treadle(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "treadle", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        check=False,
    )


def test_help_says_what_it_does_and_lists_options(tmp_path: Path) -> None:
    done = _treadle(tmp_path, "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: python -m treadle")
    for text in ("speed check", "bench", "demo", "--poller", "--version", "127.0.0.1"):
        assert text in done.stdout, text
    assert "treadle.run() is running" not in done.stdout  # the demo did not run


def test_version(tmp_path: Path) -> None:
    done = _treadle(tmp_path, "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"treadle {treadle.__version__}\n"


def test_unknown_command_is_a_usage_error(tmp_path: Path) -> None:
    done = _treadle(tmp_path, "benchmark")
    assert done.returncode == 2
    assert "invalid choice: 'benchmark' (choose from" in done.stderr


@pytest.mark.slow
def test_bench_runs_the_speed_check_alone(tmp_path: Path) -> None:
    poller = treadle.available_pollers()[-1]
    done = _treadle(tmp_path, "bench", "--poller", poller)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert f"using {poller}" in done.stdout
    assert re.search(r"overall \(geometric mean\): treadle is \d+\.\d+x asyncio", done.stdout)
    assert "treadle.run() is running" not in done.stdout  # no tour
