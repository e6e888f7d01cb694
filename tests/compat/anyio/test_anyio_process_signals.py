"""Subprocesses and signals on the treadle backend."""

from __future__ import annotations

import os
import signal
import sys

import anyio
import pytest

pytestmark = pytest.mark.anyio


async def test_open_process_runs_or_names_the_missing_loop_feature() -> None:
    # Until loop.subprocess_exec lands (issue 10) this is a NotImplementedError that says so;
    # afterwards it simply runs.
    missing: NotImplementedError | None = None
    try:
        result = await anyio.run_process([sys.executable, "-c", "print('hi')"])
    except NotImplementedError as exc:
        missing = exc
    if missing is not None:
        assert "subprocess_exec" in str(missing)
    else:
        assert result.stdout == b"hi\n"


@pytest.mark.skipif(not hasattr(signal, "SIGUSR1"), reason="needs SIGUSR1")
async def test_signal_receiver_gets_the_signal() -> None:
    with anyio.open_signal_receiver(signal.SIGUSR1) as signals:
        os.kill(os.getpid(), signal.SIGUSR1)
        async for signum in signals:
            assert signum == signal.SIGUSR1
            break
