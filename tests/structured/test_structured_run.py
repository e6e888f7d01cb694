"""treadle.structured.run(): results, clocks, and Ctrl-C delivered as cancellation."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from treadle.structured import CancelScope, MockClock, current_time, run, sleep, sleep_forever


def test_run_async_function_with_args_and_clock() -> None:
    async def main(x: int) -> tuple[int, float]:
        await sleep(100)
        return x, current_time()

    assert run(main, 7, clock=MockClock(autojump_threshold=0)) == (7, 100.0)


def test_run_coroutine_and_exceptions() -> None:
    async def fail() -> None:
        raise ValueError("out")

    with pytest.raises(ValueError, match="out"):
        run(fail())


def test_run_refuses_coroutine_plus_args() -> None:
    async def main() -> None:
        pass

    coro = main()
    with pytest.raises(TypeError):
        run(coro, 1)  # type: ignore[call-overload]
    coro.close()


def test_run_inside_running_loop_raises() -> None:
    async def outer() -> None:
        async def inner() -> None:
            pass

        with pytest.raises(RuntimeError, match="running event loop"):
            run(inner)

    asyncio.run(outer())


def test_keyboard_interrupt_reaches_main_task_at_a_checkpoint() -> None:
    # trio: test_ki_protection / KI delivered at a checkpoint, finally and shields run
    log = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.call_soon(os.kill, os.getpid(), signal.SIGINT)
        try:
            await sleep_forever()
        finally:
            with CancelScope(shield=True):
                await asyncio.sleep(0.01)  # shielded cleanup still runs to the end
                log.append("shielded cleanup done")

    with pytest.raises(KeyboardInterrupt):
        run(main)
    assert log == ["shielded cleanup done"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
