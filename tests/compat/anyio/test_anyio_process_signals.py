"""Subprocesses and signals on the treadle backend."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import sys

import anyio
import anyio.to_process
import pytest

pytestmark = pytest.mark.anyio


async def test_run_process_returns_the_output() -> None:
    result = await anyio.run_process([sys.executable, "-c", "print('hi')"])
    assert result.stdout == b"hi\n"
    assert result.returncode == 0


async def test_wait_returns_when_the_child_exits_though_a_grandchild_holds_stdout() -> None:
    # The grandchild inherits stdout and lives on until its stdin closes: wait() must not wait
    # for the pipe to close, only for the child.
    code = (
        "import subprocess, sys; "
        "subprocess.Popen([sys.executable, '-c', 'import sys; sys.stdin.read()'])"
    )
    process = await anyio.open_process([sys.executable, "-c", code])
    assert process.stdin is not None
    assert process.stdout is not None
    async with process.stdin:
        with anyio.fail_after(10):
            assert await process.wait() == 0
    with anyio.fail_after(10, shield=True):
        await process.aclose()  # the grandchild saw EOF on stdin and is gone: stdout closes


async def test_aclose_unblocks_a_child_writing_to_a_full_stdout() -> None:
    # Nobody reads stdout; closing the pipe ends the child's blocked write (EPIPE).
    code = "import sys; sys.stdout.write('x' * 4_000_000)"
    process = await anyio.open_process([sys.executable, "-c", code])
    with anyio.fail_after(10):
        await process.aclose()
    assert process.returncode is not None


@pytest.mark.skipif(not hasattr(signal, "SIGUSR1"), reason="needs SIGUSR1")
async def test_signal_receiver_gets_the_signal() -> None:
    with anyio.open_signal_receiver(signal.SIGUSR1) as signals:
        os.kill(os.getpid(), signal.SIGUSR1)
        async for signum in signals:
            assert signum == signal.SIGUSR1
            break


def _identity(value: int) -> int:
    return value


def test_process_pool_shutdown_task_survives_the_collector() -> None:
    # anyio.to_process starts a task that parks until the end of the run and then kills the
    # worker processes. treadle's sleep(math.inf) arms no timer, so only the backend's own
    # reference keeps that task alive: without it the collector destroyed it mid-run ("Task was
    # destroyed but it is pending!") and the workers were never shut down by it.
    async def main() -> list[str]:
        assert await anyio.to_process.run_sync(_identity, 7) == 7
        gc.collect()
        return [task.get_name() for task in asyncio.all_tasks()]

    names = anyio.run(main, backend="treadle")
    assert "AnyIO process pool shutdown task" in names
