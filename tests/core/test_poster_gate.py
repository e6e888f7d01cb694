"""core/_wakeup.py's PosterGate: where threads that flood call_soon_threadsafe wait for the loop.

treadle's own mechanism (asyncio has none), so these tests drive the gate directly with real
threads; tests/reliability/test_threadsafe_flood.py checks what it buys through the loop. Where
a wait could end by its timeout, POSTER_WAIT_MAX is raised far above the join bounds, so only the
release under test can end it.
"""

from __future__ import annotations

import threading
import time

import pytest

from treadle.core import _wakeup
from treadle.core._wakeup import PosterGate

JOIN = 10.0  # seconds: far more than a release takes, far less than the raised timeout


@pytest.fixture
def long_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_wakeup, "POSTER_WAIT_MAX", 600.0)


def _waiting_threads(gate: PosterGate, count: int = 1) -> list[threading.Thread]:
    """``count`` threads blocked in ``gate.wait()``; returns once the gate counts them all."""
    threads = [threading.Thread(target=gate.wait) for _ in range(count)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + JOIN
    while gate.waiting[0] < count and time.monotonic() < deadline:
        time.sleep(0.001)
    assert gate.waiting[0] == count
    return threads


def _joined(thread: threading.Thread) -> bool:
    thread.join(JOIN)
    return not thread.is_alive()


@pytest.mark.usefixtures("long_waits")
def test_wait_returns_at_once_while_no_loop_runs() -> None:
    gate = PosterGate()
    gate.wait()  # nobody would release us: a wait here would last the whole timeout
    assert gate.waiting[0] == 0


@pytest.mark.usefixtures("long_waits")
def test_wait_returns_at_once_on_the_loops_own_thread() -> None:
    gate = PosterGate()
    gate.open(threading.get_ident())
    gate.wait()  # the loop thread is the one that drains the queue
    assert gate.waiting[0] == 0


@pytest.mark.usefixtures("long_waits")
def test_release_lets_every_waiting_thread_go() -> None:
    gate = PosterGate()
    gate.open(threading.get_ident())
    threads = _waiting_threads(gate, 3)
    gate.release()
    assert all(_joined(thread) for thread in threads)
    assert gate.waiting[0] == 0


@pytest.mark.usefixtures("long_waits")
def test_close_lets_waiting_threads_go_and_paces_nobody_after() -> None:
    gate = PosterGate()
    gate.open(threading.get_ident())
    (thread,) = _waiting_threads(gate)
    gate.close()
    assert _joined(thread)
    late = threading.Thread(target=gate.wait)
    late.start()
    assert _joined(late)  # the loop no longer runs: nobody would release it


def test_a_timed_out_wait_stops_pacing_until_the_loop_iterates(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_wakeup, "POSTER_WAIT_MAX", 0.01)
    gate = PosterGate()
    gate.open(threading.get_ident())
    stuck = threading.Thread(target=gate.wait)
    stuck.start()
    assert _joined(stuck)  # timed out: the loop never iterated
    # Still counted, so the loop's next iteration calls release() and ends the stuck state.
    assert gate.waiting[0] == 1
    monkeypatch.setattr(_wakeup, "POSTER_WAIT_MAX", 600.0)
    free = threading.Thread(target=gate.wait)
    free.start()
    assert _joined(free)  # the loop is stuck: waiting again would only stall the thread
    gate.release()
    assert gate.waiting[0] == 0
    (paced,) = _waiting_threads(gate)  # the loop iterated: pacing is back
    gate.release()
    assert _joined(paced)
