"""add_signal_handler / remove_signal_handler, on Python's wakeup fd.

How it works: Python's C-level signal handler writes the signal number into the fd given to
``signal.set_wakeup_fd``; the Python-level handler we install does nothing. The loop watches the
read end like any other fd, and its reader turns each byte back into the registered handle, which
then runs as an ordinary callback in the loop. Handlers therefore run between callbacks, never
inside one, and a signal that arrives while the loop is blocked wakes it at once.

The socketpair is created on first use, so loops that never handle signals cost no fds. Only the
main thread may set the wakeup fd; asyncio turns that ValueError into RuntimeError, and so do we.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import signal
import socket
import sys
import warnings
from collections.abc import Callable
from typing import Any

from ._errors import is_coroutine_callback
from ._handles import LoopHandle

logger = logging.getLogger("asyncio")


def _ignore_signal(signum: int, frame: object) -> None:
    """The Python-level handler: the work happens when the loop reads the wakeup fd."""


class SignalHandlers:
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        watch: Callable[[int, Callable[[], None]], None],
        unwatch: Callable[[int], None],
        schedule: Callable[[LoopHandle], None],
    ) -> None:
        self._loop = loop
        self._watch = watch
        self._unwatch = unwatch
        self._schedule = schedule
        self._handlers: dict[int, LoopHandle] = {}
        self._rsock: socket.socket | None = None
        self._wsock: socket.socket | None = None

    def add(self, sig: Any, callback: Callable[..., object], args: tuple[Any, ...]) -> None:
        if is_coroutine_callback(callback):
            raise TypeError("coroutines cannot be used with add_signal_handler()")
        _check_signal(sig)
        if self._loop.is_closed():
            raise RuntimeError("Event loop is closed")
        self._open_wakeup_socket()
        assert self._wsock is not None
        try:
            # Fails outside the main thread, before anything is changed.
            signal.set_wakeup_fd(self._wsock.fileno())
        except (ValueError, OSError) as exc:
            raise RuntimeError(str(exc)) from None
        self._handlers[sig] = LoopHandle(callback, args, self._loop, None)
        try:
            signal.signal(sig, _ignore_signal)
            signal.siginterrupt(sig, False)  # SA_RESTART: fewer EINTRs in blocking calls
        except OSError as exc:
            del self._handlers[sig]
            if not self._handlers:
                _clear_wakeup_fd()
            if exc.errno == errno.EINVAL:
                raise RuntimeError(f"sig {sig} cannot be caught") from None
            raise

    def remove(self, sig: Any) -> bool:
        _check_signal(sig)
        if self._handlers.pop(sig, None) is None:
            return False
        default = signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL
        try:
            signal.signal(sig, default)
        except OSError as exc:
            if exc.errno == errno.EINVAL:
                raise RuntimeError(f"sig {sig} cannot be caught") from None
            raise
        if not self._handlers:
            _clear_wakeup_fd()
        return True

    def close(self) -> None:
        if self._handlers:
            if sys.is_finalizing():
                warnings.warn(
                    f"Closing the loop {self._loop!r} on interpreter shutdown stage, "
                    f"skipping signal handlers removal",
                    ResourceWarning,
                    stacklevel=2,
                    source=self._loop,
                )
                self._handlers.clear()
            else:
                for sig in list(self._handlers):
                    self.remove(sig)
        if self._rsock is not None:
            self._unwatch(self._rsock.fileno())
            self._rsock.close()
            self._rsock = None
        if self._wsock is not None:
            self._wsock.close()
            self._wsock = None

    def _open_wakeup_socket(self) -> None:
        if self._rsock is not None:
            return
        rsock, wsock = socket.socketpair()
        rsock.setblocking(False)
        wsock.setblocking(False)
        self._rsock, self._wsock = rsock, wsock
        self._watch(rsock.fileno(), self._read_signals)

    def _read_signals(self) -> None:
        assert self._rsock is not None
        while True:
            try:
                data = self._rsock.recv(4096)
            except (BlockingIOError, InterruptedError):
                return
            if not data:
                return
            for signum in data:
                self._deliver(signum)

    def _deliver(self, signum: int) -> None:
        handle = self._handlers.get(signum)
        if handle is None:
            return  # removed after the signal arrived
        if handle.cancelled():
            self.remove(signum)
        else:
            self._schedule(handle)


def _check_signal(sig: Any) -> None:
    if not isinstance(sig, int):
        raise TypeError(f"sig must be an int, not {sig!r}")
    if sig not in signal.valid_signals():
        raise ValueError(f"invalid signal number {sig}")


def _clear_wakeup_fd() -> None:
    try:
        signal.set_wakeup_fd(-1)
    except (ValueError, OSError) as exc:
        logger.info("set_wakeup_fd(-1) failed: %s", exc)
