"""The orphan reaper: reaps children whose loop closed while they were still running.

A loop's watcher reaps its children while the loop is open. Closing the loop does not kill
them (their transports do that, when closed or garbage-collected, as asyncio's do), so a child
may outlive its loop; without a reaper it would stay a zombie until the process exits. The
watcher hands each such child here, and one daemon thread for the whole process calls
``Popen.poll()`` on them every ORPHAN_POLL_INTERVAL seconds until each has been reaped, then
exits. ``Popen.poll()`` sets ``returncode``, so the Popen object does not warn later.

The thread exists only while orphans do; in the common case (children waited for before the
loop closes) it is never started.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time

ORPHAN_POLL_INTERVAL = 0.05


class OrphanReaper:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._orphans: list[subprocess.Popen[bytes]] = []
        self._thread: threading.Thread | None = None

    def adopt(self, popen: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._orphans.append(popen)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="treadle-orphan-reaper", daemon=True
                )
                self._thread.start()

    def __len__(self) -> int:
        with self._lock:
            return len(self._orphans)

    def _run(self) -> None:
        while True:
            with self._lock:
                # poll() reaps the child once it has exited (and is a no-op afterwards).
                self._orphans = [popen for popen in self._orphans if popen.poll() is None]
                if not self._orphans:
                    self._thread = None
                    return
            time.sleep(ORPHAN_POLL_INTERVAL)

    def forget_after_fork(self) -> None:
        """In a forked child: the parent's orphans are not ours, and its thread is gone."""
        self._lock = threading.Lock()
        self._orphans = []
        self._thread = None


_REAPER = OrphanReaper()

if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_REAPER.forget_after_fork)


def adopt_orphan(popen: subprocess.Popen[bytes]) -> None:
    """Reap ``popen``'s child once it exits, from the process-wide reaper thread."""
    _REAPER.adopt(popen)


def orphan_count() -> int:
    """Children handed over and not reaped yet (for tests and statistics)."""
    return len(_REAPER)
