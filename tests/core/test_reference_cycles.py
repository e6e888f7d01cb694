"""No reference cycles through exceptions: objects must die when the last reference goes.

Found by AnyIO's test suite run against treadle (tests/conformance): a failed connection's
OSError kept itself alive through its traceback, and so did a failed callback's last handle.
treadle-only: asyncio 3.11.7-3.13.0 has the first cycle (fixed later, gh-124859).
"""

from __future__ import annotations

import asyncio
import gc
import socket
from collections.abc import Iterator

import pytest

from treadle.core import EventLoop, available_pollers, new_event_loop


@pytest.fixture(params=available_pollers())
def tloop(request: pytest.FixtureRequest) -> Iterator[EventLoop]:
    loop = new_event_loop(poller=request.param)
    yield loop
    loop.close()


@pytest.fixture
def no_collector() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _refused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_failed_connection_error_is_not_in_a_cycle(tloop: EventLoop, no_collector: None) -> None:
    port = _refused_port()

    box: list[OSError] = []

    async def attempt() -> None:
        try:
            await tloop.create_connection(asyncio.Protocol, "127.0.0.1", port)
        except OSError as exc:
            box.append(exc)

    tloop.run_until_complete(attempt())
    (error,) = box
    # Only our box refers to the error: no frame of treadle's in a cycle with it.
    assert gc.get_referrers(error) == [box]


def test_failed_callback_frame_does_not_keep_the_handle(
    tloop: EventLoop, no_collector: None
) -> None:
    caught: list[BaseException] = []
    tloop.set_exception_handler(lambda loop, context: caught.append(context["exception"]))

    class Payload:
        pass

    payload = Payload()

    def fail(_: Payload) -> None:
        raise ValueError("boom")

    tloop.call_soon(fail, payload)
    tloop.run_until_complete(asyncio.sleep(0))
    assert len(caught) == 1
    # The traceback keeps the scheduler's frame; that frame must not keep the handle, whose
    # arguments would keep the payload alive.
    referrers = [r for r in gc.get_referrers(payload) if r is not globals()]
    assert all(not isinstance(r, tuple) for r in referrers), referrers
