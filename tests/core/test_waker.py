"""core/_wakeup.py's Waker: a wake() racing the loop's close() never writes into a reused fd.

A closed fd's number is the lowest free one, so the next file opened usually gets it. A thread
that read the eventfd's number just before close() and wrote after it would put 8 bytes into
that file. treadle-only: asyncio's self-pipe is a socket object, which guards its own fd.
"""

from __future__ import annotations

import os
import select
import threading
from pathlib import Path

import pytest

from treadle.core._wakeup import Waker


def test_wake_after_close_writes_nowhere(tmp_path: Path) -> None:
    waker = Waker()
    waker.close()
    target = tmp_path / "reused"
    fd = os.open(target, os.O_WRONLY | os.O_CREAT)
    try:
        waker.wake()
        waker.wake()
    finally:
        os.close(fd)
    assert target.read_bytes() == b""


@pytest.mark.skipif(not hasattr(os, "eventfd"), reason="the eventfd waker (Linux)")
def test_a_close_during_a_wake_waits_for_the_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The interleaving is forced, not hoped for: the write step (the real eventfd_write, called
    # late) first lets another thread close the waker and open a file, then writes.
    waker = Waker()
    target = tmp_path / "reused"
    opened: list[int] = []
    closers: list[threading.Thread] = []
    real_write = os.eventfd_write

    def close_and_reuse() -> None:
        waker.close()
        opened.append(os.open(target, os.O_WRONLY | os.O_CREAT))

    def write_late(fd: int, value: int) -> None:
        closer = threading.Thread(target=close_and_reuse)
        closers.append(closer)
        closer.start()
        closer.join(0.2)  # unguarded, the close and the open happen within this
        real_write(fd, value)

    monkeypatch.setattr(os, "eventfd_write", write_late)
    waker.wake()
    monkeypatch.undo()
    closers[0].join(10)
    assert not closers[0].is_alive()
    os.close(opened[0])
    assert target.read_bytes() == b""


def test_wake_makes_the_fd_readable_and_drain_empties_it() -> None:
    waker = Waker()
    try:
        assert select.select([waker.fileno()], [], [], 0)[0] == []
        waker.wake()
        waker.wake()
        assert select.select([waker.fileno()], [], [], 0)[0] == [waker.fileno()]
        waker.drain()
        assert select.select([waker.fileno()], [], [], 0)[0] == []
    finally:
        waker.close()
