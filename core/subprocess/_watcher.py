"""Child watchers: learn when a loop's child processes exit, and reap each exactly once.

How this works
--------------
A watcher belongs to one loop and knows only that loop's children (the ``subprocess.Popen``
objects its transports made). When a child exits, the watcher reaps it with
``waitpid(pid, WNOHANG)`` and calls the transport's exit callback, in the loop's thread.

- ``PidfdWatcher`` (Linux 5.3+): ``os.pidfd_open(pid)`` gives an fd that becomes readable when
  the child exits, and the loop polls it like any other fd. No signal, no thread, and it works
  in a loop running in any thread.
- ``SigchldWatcher`` (the fallback, wherever pidfd is missing or refused): a process-wide
  SIGCHLD handler asks every loop using this watcher to sweep its own children with
  ``waitpid(pid, WNOHANG)``. It never calls ``waitpid(-1)``, so children that other code
  started (``subprocess.run`` in a thread, another loop) are left to their owners. Python runs
  signal handlers in the main thread only, and only the main thread can install one; the kernel
  sends SIGCHLD to the thread that started the child, so a loop in another thread cannot count
  on the handler running soon (the main thread may be asleep in its own poll): such a loop
  sweeps on a short timer as well.

Invariants:
- The watcher reaps a child it watches; so may the Popen object itself (``Popen.kill()`` and
  ``send_signal()`` call ``poll()`` first), and then the watcher takes the returncode Popen
  recorded. Either way the pid stays valid for ``os.kill`` until then. A child someone else
  reaped (``waitpid(-1)`` elsewhere) is reported with returncode 255 and a warning, as asyncio
  reports it.
- When the loop closes, children still running are handed to the process-wide orphan reaper
  (see _orphans.py): nothing is killed, nothing is left a zombie.

Rejected: a thread per child blocked in ``waitpid(pid, 0)`` (asyncio's ThreadedChildWatcher)
costs a thread start per spawn and a thread per running child; ``waitpid(-1)`` steals other
code's children.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import threading
import weakref
from collections.abc import Callable
from typing import Any

from ..transports._fdio import LoopIO
from ._orphans import adopt_orphan

logger = logging.getLogger("asyncio")

ExitCallback = Callable[[int], None]

# Seconds between sweeps when the SIGCHLD handler cannot be installed (see the module note).
SWEEP_INTERVAL = 0.02
# Environment variable that picks a watcher: "pidfd" or "sigchld" (default: pidfd if usable).
WATCHER_ENV = "TREADLE_CHILD_WATCHER"


def reap(popen: subprocess.Popen[bytes]) -> int | None:
    """The child's returncode if it has exited (reaping it), else None.

    Returncodes are Popen's: the exit status, or ``-signum`` when a signal killed the child.
    """
    try:
        got, status = os.waitpid(popen.pid, os.WNOHANG)
    except ChildProcessError:
        if popen.returncode is not None:
            # Popen reaped it itself (Popen.kill() and send_signal() call poll() first).
            return popen.returncode
        # asyncio's watchers report a child reaped elsewhere the same way.
        logger.warning(
            "child process pid %d exit status already read:  will report returncode 255",
            popen.pid,
        )
        return 255
    if got == 0:
        return None
    return os.waitstatus_to_exitcode(status)


class ChildWatcher:
    """What a loop needs from a watcher; one watcher per loop."""

    def add_child(self, popen: subprocess.Popen[bytes], on_exit: ExitCallback) -> None:
        """Call ``on_exit(returncode)`` in the loop's thread once ``popen``'s child exits."""
        raise NotImplementedError

    def close(self) -> None:
        """The loop is closing: hand the children still running to the orphan reaper."""
        raise NotImplementedError

    def __len__(self) -> int:
        """Children watched and not yet reaped."""
        raise NotImplementedError


class _PidfdChild:
    """One watched child: its pidfd's reader callback is ``ready``."""

    __slots__ = ("on_exit", "pidfd", "popen", "watcher")

    def __init__(
        self,
        watcher: PidfdWatcher,
        popen: subprocess.Popen[bytes],
        pidfd: int,
        on_exit: ExitCallback,
    ) -> None:
        self.watcher = watcher
        self.popen = popen
        self.pidfd = pidfd
        self.on_exit = on_exit

    def ready(self) -> None:
        self.watcher._child_ready(self)


class PidfdWatcher(ChildWatcher):
    """Watches each child through a pidfd registered as a reader on the loop."""

    def __init__(self, io: LoopIO) -> None:
        self._io = io
        self._children: dict[int, _PidfdChild] = {}

    def add_child(self, popen: subprocess.Popen[bytes], on_exit: ExitCallback) -> None:
        # OSError (EMFILE, ...) propagates: the caller kills the child and hands it over.
        pidfd = os.pidfd_open(popen.pid)
        child = _PidfdChild(self, popen, pidfd, on_exit)
        try:
            self._io.add_reader(pidfd, child.ready)
        except BaseException:
            os.close(pidfd)
            raise
        self._children[popen.pid] = child

    def _child_ready(self, child: _PidfdChild) -> None:
        returncode = reap(child.popen)
        if returncode is None:
            return  # a readable pidfd means exited; keep watching should a kernel say otherwise
        self._forget(child)
        child.on_exit(returncode)

    def _forget(self, child: _PidfdChild) -> None:
        del self._children[child.popen.pid]
        self._io.remove_reader(child.pidfd)
        os.close(child.pidfd)

    def close(self) -> None:
        for child in list(self._children.values()):
            self._forget(child)
            adopt_orphan(child.popen)

    def __len__(self) -> int:
        return len(self._children)


class SigchldWatcher(ChildWatcher):
    """The fallback: sweep this loop's children with ``waitpid(pid, WNOHANG)`` on SIGCHLD."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._children: dict[int, tuple[subprocess.Popen[bytes], ExitCallback]] = {}
        self._timer: asyncio.TimerHandle | None = None  # armed only while sweeping on a timer
        # Only a main-thread loop can count on SIGCHLD: Linux sends it to the thread that
        # started the child, and Python runs the handler in the main thread, which may sleep in
        # its own poll (or run no loop at all) until something else wakes it. Another thread's
        # loop is still woken when the handler does run, and sweeps on a timer as well.
        attached = _SIGCHLD.attach(self)
        self._signal_driven = attached and threading.current_thread() is threading.main_thread()

    def add_child(self, popen: subprocess.Popen[bytes], on_exit: ExitCallback) -> None:
        self._children[popen.pid] = (popen, on_exit)
        # The child may have exited before it was registered: its SIGCHLD found nothing to do.
        self._loop.call_soon(self.sweep)

    def wake(self) -> None:
        """Called from the SIGCHLD handler, in the main thread: sweep soon, in the loop."""
        try:
            self._loop.call_soon_threadsafe(self.sweep)
        except RuntimeError:
            pass  # the loop closed meanwhile; close() handed its children over

    def sweep(self) -> None:
        self._timer = None
        for pid, (popen, on_exit) in list(self._children.items()):
            returncode = reap(popen)
            if returncode is not None:
                del self._children[pid]
                on_exit(returncode)
        if self._children and not self._signal_driven and not self._loop.is_closed():
            self._timer = self._loop.call_later(SWEEP_INTERVAL, self.sweep)

    def close(self) -> None:
        _SIGCHLD.detach(self)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for popen, _ in self._children.values():
            adopt_orphan(popen)
        self._children.clear()

    def __len__(self) -> int:
        return len(self._children)


class _SigchldDispatcher:
    """The one SIGCHLD handler of the process; it wakes every attached watcher."""

    def __init__(self) -> None:
        self._watchers: weakref.WeakSet[SigchldWatcher] = weakref.WeakSet()
        self._installed = False
        self._previous: Any = None  # the Python-level handler we replaced, chained to

    def attach(self, watcher: SigchldWatcher) -> bool:
        """Attach ``watcher``; True when SIGCHLD will wake it, False if it must poll."""
        self._watchers.add(watcher)
        if not self._installed and threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGCHLD, self._on_sigchld)
            signal.siginterrupt(signal.SIGCHLD, False)  # restart interrupted system calls
            self._installed = True
        return self._installed

    def detach(self, watcher: SigchldWatcher) -> None:
        self._watchers.discard(watcher)
        # The last one out puts the previous handler back, if this thread may.
        if (
            self._installed
            and not self._watchers
            and threading.current_thread() is threading.main_thread()
        ):
            previous = signal.SIG_DFL if self._previous is None else self._previous
            signal.signal(signal.SIGCHLD, previous)
            self._previous = None
            self._installed = False

    def _on_sigchld(self, signum: int, frame: object) -> None:
        for watcher in list(self._watchers):
            watcher.wake()
        if callable(self._previous):
            self._previous(signum, frame)


_SIGCHLD = _SigchldDispatcher()

_pidfd_usable: bool | None = None


def pidfd_usable() -> bool:
    """Whether ``os.pidfd_open`` exists and works here (a seccomp policy may refuse it)."""
    global _pidfd_usable
    if _pidfd_usable is None:
        _pidfd_usable = False
        if hasattr(os, "pidfd_open"):
            try:
                os.close(os.pidfd_open(os.getpid()))
                _pidfd_usable = True
            except OSError:
                pass  # refused: the fallback watcher it is
    return _pidfd_usable


def create_watcher(io: LoopIO) -> ChildWatcher:
    """The best watcher here, or the one named by TREADLE_CHILD_WATCHER ("pidfd"/"sigchld")."""
    choice = os.environ.get(WATCHER_ENV, "")
    if choice not in ("", "pidfd", "sigchld"):
        raise ValueError(f"{WATCHER_ENV} must be 'pidfd' or 'sigchld', not {choice!r}")
    if choice == "sigchld" or (choice == "" and not pidfd_usable()):
        return SigchldWatcher(io.loop)
    return PidfdWatcher(io)
