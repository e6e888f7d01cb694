"""Subprocesses for the treadle backend, on asyncio's public subprocess API.

``open_process`` calls ``asyncio.create_subprocess_exec``/``_shell``, which reach the loop's
``subprocess_exec``/``subprocess_shell``. While treadle's loop lacks them (they land with issue 10)
the NotImplementedError is re-raised naming the missing loop feature.
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

_MISSING = (
    "treadle's event loop does not implement loop.subprocess_exec()/subprocess_shell() yet, "
    "which anyio.open_process() and anyio.run_process() need on the treadle backend"
)


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
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process
        self._stdin = _Send(process.stdin) if process.stdin else None
        self._stdout = _Receive(process.stdout) if process.stdout else None
        self._stderr = _Receive(process.stderr) if process.stderr else None

    async def aclose(self) -> None:
        with NativeScope(shield=True) as scope:
            for stream in (self._stdin, self._stdout, self._stderr):
                if stream is not None:
                    await stream.aclose()
            scope.shield = False
            try:
                await self.wait()
            except BaseException:
                scope.shield = True
                if self._process.returncode is None:
                    self._process.kill()
                await self.wait()
                raise

    async def wait(self) -> int:
        return await self._process.wait()

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
    try:
        if isinstance(command, str | bytes):
            process = await asyncio.create_subprocess_shell(
                command, stdin=stdin, stdout=stdout, stderr=stderr, **kwargs
            )
        else:
            process = await asyncio.create_subprocess_exec(
                *command, stdin=stdin, stdout=stdout, stderr=stderr, **kwargs
            )
    except NotImplementedError as exc:
        raise NotImplementedError(_MISSING) from exc
    return Process(process)


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
