"""anyio.run() on the treadle backend and on asyncio with treadle's loop; sniffio; registration."""

from __future__ import annotations

import asyncio
import math

import anyio
import pytest
import sniffio

import treadle
from treadle.compat.anyio import _register


async def _loop_class_and_library() -> tuple[type, str]:
    return type(asyncio.get_running_loop()), sniffio.current_async_library()


def test_run_on_treadle_backend_uses_a_treadle_loop() -> None:
    loop_class, library = anyio.run(_loop_class_and_library, backend="treadle")
    assert loop_class is treadle.EventLoop
    assert library == "treadle"


def test_asyncio_backend_with_treadle_loop_factory_still_works() -> None:
    options = {"loop_factory": treadle.new_event_loop}
    loop_class, library = anyio.run(
        _loop_class_and_library, backend="asyncio", backend_options=options
    )
    assert loop_class is treadle.EventLoop
    assert library == "asyncio"


def test_clock_option_runs_on_virtual_time() -> None:
    async def main() -> float:
        start = anyio.current_time()
        await anyio.sleep(3600)
        return anyio.current_time() - start

    clock = treadle.testing.MockClock(autojump_threshold=0)
    assert anyio.run(main, backend="treadle", backend_options={"clock": clock}) == 3600


def test_unknown_backend_option_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="'use_uvloop'"):
        anyio.run(anyio.sleep, 0, backend="treadle", backend_options={"use_uvloop": True})


def test_run_returns_value_and_names_main_task() -> None:
    async def main() -> str:
        return anyio.get_current_task().name

    assert anyio.run(main, backend="treadle").endswith(
        "test_run_returns_value_and_names_main_task.<locals>.main"
    )


def test_unsupported_anyio_version_is_refused_clearly() -> None:
    with pytest.raises(RuntimeError, match=r"supports AnyIO 4\.14 up to .* but AnyIO 5\.0\.0"):
        _register.check_anyio_version((5, 0, 0))
    _register.check_anyio_version((4, 16, 0))  # the one installed here: no error


def test_plain_asyncio_on_a_treadle_loop_sees_asyncio() -> None:
    async def main() -> str:
        return sniffio.current_async_library()

    assert treadle.run(main()) == "asyncio"


@pytest.mark.anyio
async def test_sniffio_in_children_threads_and_calls_back() -> None:
    seen: list[str | None] = []

    async def child() -> None:
        seen.append(sniffio.current_async_library())

    def in_worker() -> tuple[str | None, str]:
        try:
            own = sniffio.current_async_library()
        except sniffio.AsyncLibraryNotFoundError:
            own = None
        return own, anyio.from_thread.run_sync(sniffio.current_async_library)

    async with anyio.create_task_group() as tg:
        tg.start_soon(child)
    # A worker thread has no async library (AnyIO's rule for every backend); what it sends back
    # to the loop runs as "treadle".
    assert seen == ["treadle"]
    assert await anyio.to_thread.run_sync(in_worker) == (None, "treadle")


@pytest.mark.anyio
async def test_current_effective_deadline_and_time() -> None:
    assert anyio.current_effective_deadline() == math.inf
    with anyio.move_on_after(5):  # noqa: ASYNC100  # only its deadline is read
        assert anyio.current_effective_deadline() == pytest.approx(anyio.current_time() + 5, 0.1)
