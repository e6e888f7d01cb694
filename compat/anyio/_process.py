"""Subprocesses for the treadle backend, on asyncio's public subprocess API.

``open_process`` calls the loop's ``subprocess_exec``/``subprocess_shell`` (treadle's, in
core/subprocess/) with asyncio's stream protocol, extended to report the child's exit: ``wait()``
returns when the child has exited, not when its pipes close too (a grandchild may hold them open),
as on AnyIO's asyncio backend. ``aclose()`` closes the pipes themselves, so a child blocked on a
full stdout gets EPIPE and can exit.
"""

from __future__ import annotations

import asyncio
import math
import os
from typing import IO, Any

import anyio.abc
from anyio import BrokenResourceError, ClosedResourceError, EndOfStream

from treadle.structured import checkpoint, checkpoint_if_cancelled, sleep

from ._native import NativeScope
from ._sync import cancel_shielded_checkpoint

# asyncio.subprocess's default StreamReader limit (create_subprocess_exec's ``limit``).
_LIMIT = 2**16


class _ExitReportingProtocol(asyncio.subprocess.SubprocessStreamProtocol):
    """asyncio's subprocess protocol, plus an Event set when the child has exited."""

    def __init__(self) -> None:
        super().__init__(limit=_LIMIT, loop=asyncio.get_running_loop())
        self.exited = asyncio.Event()

    def process_exited(self) -> None:
        super().process_exited()
        self.exited.set()


class _Receive(anyio.abc.ByteReceiveStream):
    def __init__(self, stream: asyncio.StreamReader) -> None:
        self._stream = stream

    async def receive(self, max_bytes: int = 65536) -> bytes:
        if max_bytes < 1:
            raise ValueError("max_bytes must be a positive integer")
        data = await self._stream.read(max_bytes)
        if not data:
            raise EndOfStream
        return data

    async def aclose(self) -> None:
        self._stream.set_exception(ClosedResourceError())
        await checkpoint()


class _Send(anyio.abc.ByteSendStream):
    def __init__(self, stream: asyncio.StreamWriter) -> None:
        self._stream = stream
        self._closed = False

    async def send(self, item: bytes) -> None:
        await checkpoint_if_cancelled()
        try:
            self._stream.write(item)
            await self._stream.drain()
        except (ConnectionResetError, BrokenPipeError, RuntimeError) as exc:
            if self._closed:
                raise ClosedResourceError from exc
            if self._stream.is_closing():
                raise BrokenResourceError from exc
            raise
        await cancel_shielded_checkpoint()

    async def aclose(self) -> None:
        self._closed = True
        self._stream.close()
        await checkpoint()


class Process(anyio.abc.Process):
    def __init__(
        self,
        process: asyncio.subprocess.Process,
        transport: asyncio.SubprocessTransport,
        exited: asyncio.Event,
    ) -> None:
        self._process = process
        self._transport = transport
        self._exited = exited
        self._stdin = _Send(process.stdin) if process.stdin else None
        self._stdout = _Receive(process.stdout) if process.stdout else None
        self._stderr = _Receive(process.stderr) if process.stderr else None

    async def aclose(self) -> None:
        with NativeScope(shield=True) as scope:
            for fd, stream in enumerate((self._stdin, self._stdout, self._stderr)):
                if stream is not None:
                    await stream.aclose()
                    # The pipe itself too: a child blocked writing to a full pipe nobody reads
                    # gets EPIPE (or SIGPIPE) and exits, instead of wait() below hanging.
                    pipe = self._transport.get_pipe_transport(fd)
                    if pipe is not None:
                        pipe.close()
            scope.shield = False
            try:
                await self.wait()
            except BaseException:
                scope.shield = True
                self._transport.close()  # kills the child if it still runs (asyncio's close())
                await self.wait()
                raise

    async def wait(self) -> int:
        """The exit status, once the child has exited (its pipes may still be open)."""
        await self._exited.wait()
        returncode = self._process.returncode
        assert returncode is not None  # set before process_exited() is called
        return returncode

    def terminate(self) -> None:
        self._process.terminate()

    def kill(self) -> None:
        self._process.kill()

    def send_signal(self, signal: int) -> None:
        self._process.send_signal(signal)

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def returncode(self) -> int | None:
        return self._process.returncode

    @property
    def stdin(self) -> anyio.abc.ByteSendStream | None:
        return self._stdin

    @property
    def stdout(self) -> anyio.abc.ByteReceiveStream | None:
        return self._stdout

    @property
    def stderr(self) -> anyio.abc.ByteReceiveStream | None:
        return self._stderr


async def open_process(
    command: Any,
    *,
    stdin: int | IO[Any] | None,
    stdout: int | IO[Any] | None,
    stderr: int | IO[Any] | None,
    **kwargs: Any,
) -> Process:
    await checkpoint()
    if isinstance(command, os.PathLike):
        command = os.fspath(command)
    loop = asyncio.get_running_loop()
    if isinstance(command, str | bytes):
        transport, protocol = await loop.subprocess_shell(
            _ExitReportingProtocol, command, stdin=stdin, stdout=stdout, stderr=stderr, **kwargs
        )
    else:
        transport, protocol = await loop.subprocess_exec(
            _ExitReportingProtocol, *command, stdin=stdin, stdout=stdout, stderr=stderr, **kwargs
        )
    process = asyncio.subprocess.Process(transport, protocol, loop)
    return Process(process, transport, protocol.exited)


async def shutdown_process_pool_on_exit(workers: set[anyio.abc.Process]) -> None:
    """Kill AnyIO's worker processes when the run ends (the run cancels this task)."""
    try:
        await sleep(math.inf)
    except asyncio.CancelledError:
        for process in list(workers):
            if process.returncode is None:
                process.kill()
        with NativeScope(shield=True):
            for process in list(workers):
                await process.aclose()
        raise
