"""Each OS poller on its own: the small interface the fd registry relies on.

These run without a loop, once per poller this OS offers (kqueue is skipped on Linux).
"""

from __future__ import annotations

import errno
import os
import socket
import time
from collections.abc import Iterator

import pytest

from treadle.core.poll import READ, WRITE, Poller, available_pollers, create_poller


@pytest.fixture(params=available_pollers())
def poller(request: pytest.FixtureRequest) -> Iterator[Poller]:
    p = create_poller(request.param)
    yield p
    p.close()


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    yield a, b
    a.close()
    b.close()


def _ready(poller: Poller, timeout: float = 0.0) -> dict[int, int]:
    return dict(poller.poll(timeout, 8))


def test_nothing_ready_returns_empty_after_timeout(
    poller: Poller, pair: tuple[socket.socket, socket.socket]
) -> None:
    a, _ = pair
    poller.register(a.fileno(), READ)
    started = time.monotonic()
    assert _ready(poller, 0.02) == {}
    assert time.monotonic() - started >= 0.015


def test_readable_after_peer_sends(
    poller: Poller, pair: tuple[socket.socket, socket.socket]
) -> None:
    a, b = pair
    poller.register(a.fileno(), READ)
    b.send(b"x")
    events = _ready(poller, 1.0)
    assert events[a.fileno()] & READ


def test_writable_socket_reports_write(
    poller: Poller, pair: tuple[socket.socket, socket.socket]
) -> None:
    a, _ = pair
    poller.register(a.fileno(), WRITE)
    assert _ready(poller)[a.fileno()] & WRITE


def test_modify_switches_direction(
    poller: Poller, pair: tuple[socket.socket, socket.socket]
) -> None:
    a, _ = pair
    poller.register(a.fileno(), READ)
    assert _ready(poller) == {}
    poller.modify(a.fileno(), WRITE)
    assert _ready(poller)[a.fileno()] & WRITE


def test_unregistered_fd_is_not_reported(
    poller: Poller, pair: tuple[socket.socket, socket.socket]
) -> None:
    a, b = pair
    poller.register(a.fileno(), READ)
    poller.unregister(a.fileno())
    b.send(b"x")
    assert _ready(poller) == {}


def test_unregister_after_close_is_silent(poller: Poller) -> None:
    a, b = socket.socketpair()
    fd = a.fileno()
    poller.register(fd, READ)
    a.close()
    b.close()
    poller.unregister(fd)  # the OS may have forgotten it already; must not raise


def test_hangup_wakes_reader(poller: Poller, pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    poller.register(a.fileno(), READ)
    b.close()
    assert _ready(poller, 1.0)[a.fileno()] & READ


def test_register_bad_fd_raises_oserror_or_valueerror(poller: Poller) -> None:
    r, w = os.pipe()
    os.close(r)
    os.close(w)
    if poller.name in ("poll", "select"):
        pytest.skip(f"{poller.name} accepts any fd at registration and reports it when polled")
    with pytest.raises(OSError, match="Bad file descriptor") as info:
        poller.register(r, READ)
    assert info.value.errno == errno.EBADF


def test_sub_millisecond_timeout_does_not_return_early(
    poller: Poller, pair: tuple[socket.socket, socket.socket]
) -> None:
    # Rounding a 0.3 ms wait down to 0 would make a loop spin until its timer is due.
    a, _ = pair
    poller.register(a.fileno(), READ)
    started = time.monotonic()
    poller.poll(0.0003, 8)
    assert time.monotonic() - started >= 0.0003


def test_unknown_poller_name_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown poller 'nope'"):
        create_poller("nope")


def test_environment_variable_picks_default(monkeypatch: pytest.MonkeyPatch) -> None:
    from treadle.core.poll import default_poller_name

    monkeypatch.setenv("TREADLE_POLLER", "select")
    assert default_poller_name() == "select"
    monkeypatch.setenv("TREADLE_POLLER", "bogus")
    with pytest.raises(ValueError, match="TREADLE_POLLER"):
        default_poller_name()
