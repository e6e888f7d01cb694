"""The native floor's driver (benchmarks/native_floor.py) keeps working.

The timed code runs here interpreted, which checks that the floor really runs asyncio's tasks to
completion; building it with mypyc is tried only where mypyc, setuptools and a compiler are
installed (the lint extra), since the test extra does not bring them.
"""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path

import pytest

from benchmarks import native_floor, native_floor_core, tasks


def test_native_floor_runs_tasks_to_completion() -> None:
    seconds = native_floor.native_floor_seconds(
        native_floor_core, lambda loop: tasks._switch_all(loop, 3, 20)
    )
    assert seconds >= 0.0


def test_native_floor_runs_a_batch_in_order() -> None:
    queue = native_floor_core.NativeQueue()
    seen: list[int] = []
    for value in range(5):
        queue.call_soon(seen.append, value)
    queue.call_soon(seen.append, 99).cancel()
    queue.run()
    assert seen == [0, 1, 2, 3, 4]
    assert native_floor.batch_on_native_floor(native_floor_core) >= 0.0


def test_report_compares_uvloop_with_the_native_floor() -> None:
    text = native_floor.report({"sleep0_pingpong": {"native floor": 500.0, "uvloop": 450.0}})
    assert "| sleep0_pingpong | 500 | 450 | 0.90x |" in text


def test_batch_on_a_real_loop() -> None:
    assert native_floor.batch_on_loop(asyncio.new_event_loop) >= 0.0


@pytest.mark.skipif(
    importlib.util.find_spec("mypyc") is None or importlib.util.find_spec("setuptools") is None,
    reason="building the native floor needs mypyc and setuptools (the lint extra)",
)
def test_native_floor_builds_with_mypyc(tmp_path: Path) -> None:
    native = native_floor.build_native_floor(tmp_path)
    assert str(native.__file__).endswith((".so", ".pyd"))
    assert native_floor.batch_on_native_floor(native) >= 0.0
