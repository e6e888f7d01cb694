"""Waits for real threads use real time, whatever clock the loop runs on.

Defect 6 of issue 13: with a MockClock that autojumps, shutting down the default executor
(``asyncio.Runner`` does it with a 300 s timeout) jumped virtual time past the timeout while the
loop idled waiting for the pool's real threads, and warned "The executor did not finishing
joining its threads within 300 seconds". The virtual-clock tests are treadle's (asyncio has no
clock to replace); the real-timeout test compares with asyncio's loop.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

import treadle
from treadle.core import new_event_loop
from treadle.testing import MockClock


async def _use_pool() -> float:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, lambda: time.sleep(0.05) or 1.0)


@pytest.mark.parametrize("autojump", [0.0, 0.01])
def test_run_with_mock_clock_shuts_the_pool_down_without_warning(autojump: float) -> None:
    # filterwarnings=error: the RuntimeWarning would fail the test.
    for _ in range(3):  # it failed 5 runs in 10 on 3.12, 10 in 10 on 3.13
        assert treadle.run(_use_pool(), clock=MockClock(autojump_threshold=autojump)) == 1.0


@pytest.mark.skipif(
    sys.version_info < (3, 12), reason="shutdown_default_executor(timeout) is 3.12+"
)
def test_shutdown_timeout_on_mock_clock_is_real_time() -> None:
    loop = new_event_loop(clock=MockClock(autojump_threshold=0))
    release = threading.Event()
    try:

        async def main() -> float:
            loop.run_in_executor(None, release.wait)
            threading.Timer(0.2, release.set).start()
            started = time.monotonic()
            await loop.shutdown_default_executor(timeout=30)  # virtual 30 s would pass at once
            return time.monotonic() - started

        waited = loop.run_until_complete(main())
        assert 0.1 < waited < 10
    finally:
        release.set()
        loop.close()


# asyncio 3.12 waits for the join without a limit and applies the timeout only after it (3.12.1
# here hangs); the timeout that expires while waiting is 3.13's, which treadle follows on every
# version.
@pytest.mark.skipif(sys.version_info < (3, 13), reason="asyncio's timeout expires from 3.13")
def test_shutdown_timeout_still_expires_in_real_time(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any]
) -> None:
    release = threading.Event()

    async def main() -> None:
        loop.run_in_executor(None, release.wait)
        with pytest.warns(RuntimeWarning, match="did not finishing joining its threads within"):
            await loop.shutdown_default_executor(timeout=0.1)  # type: ignore[call-arg]  # 3.12+

    try:
        run(main())
    finally:
        release.set()
