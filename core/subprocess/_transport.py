"""SubprocessTransport: one child process, its pipes, and the protocol that hears about both.

How this works
--------------
The child is started by ``subprocess.Popen`` (see _spawn.py). Each of its stdin/stdout/stderr
that is a pipe becomes one of core's pipe transports (a WritePipeTransport for stdin, a
ReadPipeTransport for the others), whose protocol is a small ``PipeEnd`` forwarding to this
transport with the fd number. The child watcher calls ``_process_exited`` once it has reaped
the child.

Order of the protocol's callbacks, as asyncio documents it: ``connection_made`` first; then
``pipe_data_received``/``pipe_connection_lost`` per pipe, and ``process_exited`` once, in the
order they happen (the child may exit before its pipes close, or after); ``connection_lost``
last, once the child has exited *and* every pipe is closed. Anything that happens before
``connection_made`` has run is queued and replayed right after it.

``_wait()`` (what ``asyncio.subprocess.Process.wait()`` awaits) returns the returncode at once
when the child was already reaped, else when ``connection_lost`` has run; that is asyncio's
rule too.

Signals are sent with ``os.kill`` only while the child is not yet reaped: until then its pid
cannot be reused, because only our watcher (or the Popen object, see _watcher.py) reaps it.
Afterwards they are silently dropped, which
is what asyncio's ``ProcessLookupError`` handling amounts to, without its pid-reuse race.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import warnings
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("asyncio")


class PipeEnd(asyncio.Protocol):
    """The protocol of one pipe transport: forwards its events to the SubprocessTransport."""

    def __init__(self, owner: SubprocessTransport, fd: int) -> None:
        self.owner: SubprocessTransport | None = owner  # None once the pipe is lost (no cycle)
        self.fd = fd
        self.pipe: asyncio.BaseTransport | None = None
        self.disconnected = False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} fd={self.fd} pipe={self.pipe!r}>"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.pipe = transport

    def data_received(self, data: bytes) -> None:
        assert self.owner is not None
        self.owner._pipe_data_received(self.fd, data)

    def eof_received(self) -> None:
        pass  # connection_lost(None) follows and says the same thing

    def connection_lost(self, exc: Exception | None) -> None:
        self.disconnected = True
        owner = self.owner
        self.owner = None
        if owner is not None:
            owner._pipe_connection_lost(self.fd, exc)

    def pause_writing(self) -> None:
        if self.owner is not None:
            self.owner._protocol.pause_writing()

    def resume_writing(self) -> None:
        if self.owner is not None:
            self.owner._protocol.resume_writing()


class SubprocessTransport(asyncio.SubprocessTransport):
    """asyncio's SubprocessTransport over a ``subprocess.Popen`` child and core's pipes.

    Made by ``loop.subprocess_exec``/``subprocess_shell``; ``get_extra_info('subprocess')`` is
    the Popen object. ``close()`` closes the pipes and kills the child if it is still running.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        protocol: asyncio.SubprocessProtocol,
        popen: subprocess.Popen[bytes],
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__({**(extra or {}), "subprocess": popen})
        self._loop: asyncio.AbstractEventLoop | None = loop  # None once connection_lost ran
        self._protocol: Any = protocol
        self._proc: subprocess.Popen[bytes] | None = popen  # None once connection_lost ran
        self._pid = popen.pid
        self._returncode: int | None = None
        self._closed = False  # close() was called
        self._finished = False  # connection_lost() is scheduled or done
        # Protocol calls made before connection_made() ran; None once it has.
        self._pending: list[tuple[Callable[..., object], tuple[Any, ...]]] | None = []
        self._exit_waiters: list[asyncio.Future[int]] = []
        self._pipes: dict[int, PipeEnd] = {}

    def __repr__(self) -> str:
        info = [type(self).__name__]
        if self._closed:
            info.append("closed")
        info.append(f"pid={self._pid}")
        if self._returncode is not None:
            info.append(f"returncode={self._returncode}")
        else:
            info.append("running")
        info.extend(self._pipes_repr())
        return "<{}>".format(" ".join(info))

    def _pipes_repr(self) -> list[str]:
        pipes = {fd: end.pipe for fd, end in self._pipes.items() if end.pipe is not None}
        info = []
        if 0 in pipes:
            info.append(f"stdin={pipes[0]}")
        if 1 in pipes and pipes.get(2) is pipes[1]:
            info.append(f"stdout=stderr={pipes[1]}")
        else:
            info.extend(
                f"{name}={pipes[fd]}" for fd, name in ((1, "stdout"), (2, "stderr")) if fd in pipes
            )
        return info

    # -- set-up (called by _spawn) --------------------------------------------------------------

    def _add_pipe(self, fd: int) -> PipeEnd:
        end = PipeEnd(self, fd)
        self._pipes[fd] = end
        return end

    def _connected(self) -> None:
        """Scheduled after the pipes' own connection_made(): tell the protocol, replay."""
        pending = self._pending
        self._pending = None
        self._protocol.connection_made(self)
        for callback, args in pending or ():
            callback(*args)

    # -- asyncio.SubprocessTransport ------------------------------------------------------------

    def get_pid(self) -> int:
        return self._pid

    def get_returncode(self) -> int | None:
        return self._returncode

    def get_pipe_transport(self, fd: int) -> Any:
        end = self._pipes.get(fd)
        return None if end is None else end.pipe

    def send_signal(self, signal: int) -> None:
        """``os.kill(pid, signal)``; ProcessLookupError once the transport has finished."""
        if self._proc is None:
            raise ProcessLookupError
        if self._returncode is not None:
            return  # reaped: the pid may belong to someone else now
        try:
            os.kill(self._pid, signal)
        except ProcessLookupError:
            pass

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._protocol  # type: ignore[no-any-return]

    def is_closing(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Close every pipe; kill the child if it has not exited (asyncio's close()).

        On a closed loop the pipes cannot be closed (their connection_lost() can no longer be
        delivered; asyncio raises RuntimeError here): the child is killed all the same, and
        the pipes' own transports close their fds when collected, with a ResourceWarning.
        """
        if self._closed:
            return
        self._closed = True
        loop = self._loop
        if loop is None or not loop.is_closed():
            for end in self._pipes.values():
                if end.pipe is not None:
                    end.pipe.close()
        if self._proc is not None and self._returncode is None and self._proc.returncode is None:
            # (Popen.returncode is set by the orphan reaper once the loop has closed.)
            if loop is not None and loop.get_debug():
                logger.warning("Close running child process: kill %r", self)
            try:
                self._proc.kill()  # Popen's: users may wrap it (asyncio calls it too)
            except (ProcessLookupError, PermissionError):
                pass  # exited meanwhile, or a setuid child we may not signal

    def __del__(self, _warn: Callable[..., None] = warnings.warn) -> None:
        if not self._closed:
            _warn(f"unclosed transport {self!r}", ResourceWarning, source=self)
            self.close()

    # -- events from the pipes and the watcher --------------------------------------------------

    def _call(self, callback: Callable[..., object], *args: Any) -> None:
        if self._pending is not None:
            self._pending.append((callback, args))
        else:
            callback(*args)

    def _pipe_data_received(self, fd: int, data: bytes) -> None:
        self._call(self._protocol.pipe_data_received, fd, data)

    def _pipe_connection_lost(self, fd: int, exc: BaseException | None) -> None:
        self._call(self._protocol.pipe_connection_lost, fd, exc)
        self._try_finish()

    def _process_exited(self, returncode: int) -> None:
        """The watcher reaped the child (called in the loop's thread)."""
        assert self._returncode is None, self._returncode
        loop = self._loop
        if loop is not None and loop.get_debug():
            logger.info("%r exited with return code %r", self, returncode)
        self._returncode = returncode
        if self._proc is not None and self._proc.returncode is None:
            # The watcher reaped it, so Popen never learnt: tell it, or it warns when collected.
            self._proc.returncode = returncode
        self._call(self._protocol.process_exited)
        self._try_finish()

    def _try_finish(self) -> None:
        if self._returncode is None or self._finished:
            return
        if all(end.disconnected for end in self._pipes.values()):
            self._finished = True
            # At once, not soon as asyncio does: wait() then returns an iteration earlier.
            # The order the protocol sees is the same: connection_lost() comes last.
            self._call(self._call_connection_lost)

    def _call_connection_lost(self) -> None:
        try:
            self._protocol.connection_lost(None)
        finally:
            for waiter in self._exit_waiters:
                if not waiter.cancelled():
                    waiter.set_result(self._returncode)  # type: ignore[arg-type]  # set above
            self._exit_waiters = []
            self._loop = None
            self._proc = None
            self._protocol = None

    async def _wait(self) -> int:
        """The returncode, once reaped; asyncio.subprocess.Process.wait() awaits this."""
        if self._returncode is not None:
            return self._returncode
        assert self._loop is not None
        waiter: asyncio.Future[int] = self._loop.create_future()
        self._exit_waiters.append(waiter)
        return await waiter
