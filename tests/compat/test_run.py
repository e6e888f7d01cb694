"""treadle.run(), loop_factory with asyncio.run()/asyncio.Runner, and ``python -m treadle``."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

import treadle
from treadle import core


async def _running_loop_is_treadle() -> bool:
    return isinstance(asyncio.get_running_loop(), treadle.EventLoop)


Error = tuple[type[BaseException], str]


def _error_of(call: Callable[[], object]) -> Error:
    with pytest.raises(BaseException) as info:  # noqa: PT011 - compared with asyncio's below
        call()
    return type(info.value), str(info.value)


def test_run_returns_result_on_treadle_loop() -> None:
    async def main() -> tuple[bool, int]:
        await asyncio.sleep(0)
        return await _running_loop_is_treadle(), 42

    assert treadle.run(main()) == (True, 42)


def test_run_propagates_exception() -> None:
    class Boom(Exception):
        pass

    async def main() -> None:
        await asyncio.sleep(0)
        raise Boom("from the coroutine")

    with pytest.raises(Boom, match="from the coroutine"):
        treadle.run(main())


def test_run_closes_its_loop() -> None:
    async def main() -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    loop = treadle.run(main())
    assert loop.is_closed()


def test_run_cancels_tasks_left_running() -> None:
    seen: list[str] = []

    async def straggler() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    async def main() -> None:
        asyncio.get_running_loop().create_task(straggler())
        await asyncio.sleep(0)

    treadle.run(main())
    assert seen == ["cancelled"]


@pytest.mark.parametrize("debug", [True, False])
def test_run_sets_debug_mode(debug: bool) -> None:
    async def main() -> bool:
        return asyncio.get_running_loop().get_debug()

    assert treadle.run(main(), debug=debug) is debug


def test_run_rejects_non_coroutine_like_asyncio_run() -> None:
    ours = _error_of(lambda: treadle.run(42))  # type: ignore[arg-type]
    theirs = _error_of(lambda: asyncio.run(42))  # type: ignore[arg-type]
    assert ours == theirs == (ValueError, "a coroutine was expected, got 42")


def test_run_inside_running_loop_raises_like_asyncio_run() -> None:
    async def nothing() -> None:
        pass

    def nested_run(runner: Callable[[Coroutine[Any, Any, None]], object]) -> Error:
        coro = nothing()
        try:
            return _error_of(lambda: runner(coro))
        finally:
            coro.close()

    async def main() -> tuple[Error, Error]:
        return nested_run(treadle.run), nested_run(asyncio.run)

    ours, theirs = treadle.run(main())
    assert ours == theirs
    assert ours[0] is RuntimeError


def test_new_event_loop_is_the_core_factory() -> None:
    assert treadle.new_event_loop is core.new_event_loop
    loop = treadle.new_event_loop()
    try:
        assert isinstance(loop, treadle.EventLoop)
        assert isinstance(loop, asyncio.AbstractEventLoop)
    finally:
        loop.close()


@pytest.mark.skipif(sys.version_info < (3, 12), reason="asyncio.run() has loop_factory from 3.12")
def test_asyncio_run_with_loop_factory() -> None:
    if sys.version_info >= (3, 12):  # repeats the skip, for the type checker's sake
        assert asyncio.run(_running_loop_is_treadle(), loop_factory=treadle.new_event_loop)


def test_asyncio_runner_with_loop_factory() -> None:
    with asyncio.Runner(loop_factory=treadle.new_event_loop) as runner:
        assert runner.run(_running_loop_is_treadle()) is True
        # The same loop serves every run() of one Runner.
        loop = runner.get_loop()
        assert isinstance(loop, treadle.EventLoop)
        assert runner.run(_running_loop_is_treadle()) is True
        assert runner.get_loop() is loop
    assert loop.is_closed()


@pytest.mark.slow
def test_python_m_treadle_runs_demo(tmp_path: Path) -> None:
    # From an empty directory, so the installed package is what runs.
    done = subprocess.run(
        [sys.executable, "-m", "treadle"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert re.search(r"treadle is \d+\.\d+x asyncio", done.stdout), done.stdout
    for section in ("tasks", "timers", "tcp", "executor", "process"):
        assert re.search(rf"^  {section} ", done.stdout, re.MULTILINE), section
