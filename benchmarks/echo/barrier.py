"""A start barrier for client processes, so that all clients begin timing together.

Each client writes one byte to the ready pipe when its warm-up is done and then blocks
reading the go pipe. A thread in the parent collects one ready byte per client and then
writes one go byte per client. It has to be a thread: the parent's main thread is busy
running the event loop under test, which serves the clients' warm-up traffic. The thread is
blocked in os.read (GIL released) until the release, so it does not disturb the loop.
"""

from __future__ import annotations

import os
import threading
import time


class StartBarrier:
    def __init__(self, parties: int) -> None:
        self._parties = parties
        self._ready_read, self.ready_write = os.pipe()
        self.go_read, self._go_write = os.pipe()
        self._thread = threading.Thread(
            target=self._release, name="echo-start-barrier", daemon=True
        )
        self._child_ends_closed = False
        # time.process_time() of this (the server's) process when the clients were let go:
        # the start of the server CPU time that the timed round trips cost. None until then.
        self.released_cpu: float | None = None

    def child_fds(self) -> tuple[int, int]:
        """The fds each client inherits: (ready to write to, go to read from)."""
        return self.ready_write, self.go_read

    def start(self) -> None:
        """Call after every client has been spawned."""
        self._close_child_ends()
        self._thread.start()

    def close(self) -> None:
        """Call once every client has exited (or been killed)."""
        self._close_child_ends()
        if self._thread.is_alive():
            # With every client gone the ready pipe is at EOF, so the thread ends promptly.
            self._thread.join(timeout=5.0)
        os.close(self._go_write)
        os.close(self._ready_read)

    def _close_child_ends(self) -> None:
        # The parent must hold no child end: if every client dies, the ready pipe reports EOF.
        if not self._child_ends_closed:
            self._child_ends_closed = True
            os.close(self.ready_write)
            os.close(self.go_read)

    def _release(self) -> None:
        waiting = self._parties
        while waiting:
            chunk = os.read(self._ready_read, waiting)
            if not chunk:
                return
            waiting -= len(chunk)
        self.released_cpu = time.process_time()
        os.write(self._go_write, b"g" * self._parties)
