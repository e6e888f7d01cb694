"""treadle.run(): virtual clocks, and Ctrl-C delivered through a root cancel scope.

The difference from asyncio.run() that matters: Ctrl-C arriving while the main task is inside a
shielded scope does not break into it (asyncio's task.cancel() would); the shielded work
finishes, the cancellation then unwinds the rest, and run() raises KeyboardInterrupt.
"""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

import treadle


def test_run_with_a_virtual_clock_skips_the_wait() -> None:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        await asyncio.sleep(3600)  # an hour, in virtual time
        return loop.time() - start

    assert treadle.run(main(), clock=treadle.testing.MockClock(autojump_threshold=0)) >= 3600


def test_run_rejects_a_non_coroutine_like_asyncio_run() -> None:
    with pytest.raises(ValueError, match="a coroutine was expected"):
        treadle.run(42)  # type: ignore[arg-type]


def test_ctrl_c_inside_a_shielded_scope_lets_it_finish() -> None:
    # trio scenario: KeyboardInterrupt is delivered at a checkpoint, shields hold, finally runs.
    log: list[str] = []

    async def main() -> None:
        try:
            with treadle.CancelScope(shield=True):
                asyncio.get_running_loop().call_later(0.01, os.kill, os.getpid(), signal.SIGINT)
                await asyncio.sleep(0.1)  # Ctrl-C arrives in here
                log.append("shielded work finished")
            await asyncio.sleep(10)  # the first checkpoint outside the shield
            log.append("not reached")
        finally:
            log.append("finally ran")

    with pytest.raises(KeyboardInterrupt):
        treadle.run(main())
    assert log == ["shielded work finished", "finally ran"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_ctrl_c_cancellation_is_level_triggered() -> None:
    # Cleanup that catches the cancellation and awaits again is cancelled again.
    log: list[str] = []

    async def main() -> None:
        asyncio.get_running_loop().call_later(0.01, os.kill, os.getpid(), signal.SIGINT)
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            log.append("first")
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            log.append("second")
            raise

    with pytest.raises(KeyboardInterrupt):
        treadle.run(main())
    assert log == ["first", "second"]


def test_public_api_exports_structured_names() -> None:
    for name in ("open_nursery", "CancelScope", "move_on_after", "fail_after", "sleep"):
        assert name in treadle.__all__
        assert getattr(treadle, name) is getattr(treadle.structured, name)
    assert treadle.testing.MockClock is treadle.structured.MockClock
