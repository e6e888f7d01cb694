"""loop.subprocess_exec / subprocess_shell: check arguments, spawn, connect pipes, watch.

The steps, each a function below:
1. check the arguments as asyncio does (same ValueError messages, same order);
2. call the protocol factory, then start the child with ``subprocess.Popen`` (``bufsize=0``,
   bytes pipes); an error here (FileNotFoundError, PermissionError, ...) is raised to the
   awaiting caller and leaves nothing behind;
3. wrap each pipe Popen made in core's pipe transport, register the child with the loop's
   watcher, and schedule ``connection_made`` after the pipes' own;
4. yield once, so that ``connection_made`` has run when the caller resumes. If the caller is
   cancelled meanwhile, the transport is closed (the child killed) and reaped before the
   cancellation propagates, as in asyncio.

Unlike asyncio, the pipes are wrapped directly instead of through ``connect_read_pipe`` /
``connect_write_pipe`` (which wait a loop iteration each), and no task is created per spawn.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
from collections.abc import Callable
from typing import Any

from ..transports._fdio import LoopIO
from ..transports._pipes import ReadPipeTransport, WritePipeTransport
from ._orphans import adopt_orphan
from ._transport import SubprocessTransport
from ._watcher import ChildWatcher

logger = logging.getLogger("asyncio")

PIPE = subprocess.PIPE


def check_exec_arguments(
    universal_newlines: bool,
    shell: bool,
    bufsize: int,
    text: bool | None,
    encoding: str | None,
    errors: str | None,
) -> None:
    """asyncio's checks for subprocess_exec, in asyncio's order."""
    if universal_newlines:
        raise ValueError("universal_newlines must be False")
    if shell:
        raise ValueError("shell must be False")
    _check_bytes_mode(bufsize, text, encoding, errors)


def check_shell_arguments(
    cmd: Any,
    universal_newlines: bool,
    shell: bool,
    bufsize: int,
    text: bool | None,
    encoding: str | None,
    errors: str | None,
) -> None:
    """asyncio's checks for subprocess_shell, in asyncio's order."""
    if not isinstance(cmd, (bytes, str)):
        raise ValueError("cmd must be a string")
    if universal_newlines:
        raise ValueError("universal_newlines must be False")
    if not shell:
        raise ValueError("shell must be True")
    _check_bytes_mode(bufsize, text, encoding, errors)


def _check_bytes_mode(
    bufsize: int, text: bool | None, encoding: str | None, errors: str | None
) -> None:
    if bufsize != 0:
        raise ValueError("bufsize must be 0")
    if text:
        raise ValueError("text must be False")
    if encoding is not None:
        raise ValueError("encoding must be None")
    if errors is not None:
        raise ValueError("errors must be None")


def log_spawn(message: str, stdin: Any, stdout: Any, stderr: Any) -> None:
    """asyncio's debug-mode line for a new subprocess (never its arguments: secrets)."""
    parts = [message]
    if stdin is not None:
        parts.append(f"stdin={_describe_stdio(stdin)}")
    if stdout is not None and stderr == subprocess.STDOUT:
        parts.append(f"stdout=stderr={_describe_stdio(stdout)}")
    else:
        if stdout is not None:
            parts.append(f"stdout={_describe_stdio(stdout)}")
        if stderr is not None:
            parts.append(f"stderr={_describe_stdio(stderr)}")
    logger.debug(" ".join(parts))


def _describe_stdio(value: Any) -> str:
    if value == subprocess.PIPE:
        return "<pipe>"
    if value == subprocess.STDOUT:
        return "<stdout>"
    return repr(value)


async def subprocess_exec(
    io: LoopIO,
    watcher: ChildWatcher,
    protocol_factory: Callable[[], asyncio.SubprocessProtocol],
    program: Any,
    args: tuple[Any, ...],
    stdin: Any,
    stdout: Any,
    stderr: Any,
    options: dict[str, Any],
) -> tuple[SubprocessTransport, asyncio.SubprocessProtocol]:
    """asyncio's ``loop.subprocess_exec`` once its bytes-mode arguments were checked."""
    return await _spawn_logged(
        io, watcher, protocol_factory, (program, *args), False, ("execute program", program),
        (stdin, stdout, stderr), options,
    )  # fmt: skip


async def subprocess_shell(
    io: LoopIO,
    watcher: ChildWatcher,
    protocol_factory: Callable[[], asyncio.SubprocessProtocol],
    cmd: str | bytes,
    stdin: Any,
    stdout: Any,
    stderr: Any,
    options: dict[str, Any],
) -> tuple[SubprocessTransport, asyncio.SubprocessProtocol]:
    """asyncio's ``loop.subprocess_shell`` once its arguments were checked."""
    return await _spawn_logged(
        io, watcher, protocol_factory, cmd, True, ("run shell command", cmd),
        (stdin, stdout, stderr), options,
    )  # fmt: skip


async def _spawn_logged(
    io: LoopIO,
    watcher: ChildWatcher,
    protocol_factory: Callable[[], asyncio.SubprocessProtocol],
    args: Any,
    shell: bool,
    what: tuple[str, Any],
    stdio: tuple[Any, Any, Any],
    options: dict[str, Any],
) -> tuple[SubprocessTransport, asyncio.SubprocessProtocol]:
    """Both entry points: make the protocol, spawn, and log as asyncio's debug mode does
    (``what``: the label and the program or command, formatted only in debug mode)."""
    protocol = protocol_factory()
    description = None
    if io.loop.get_debug():
        description = f"{what[0]} {what[1]!r}"
        log_spawn(description, *stdio)
    extra = options.pop("extra", None)
    transport = await spawn(io, watcher, protocol, args, shell, *stdio, extra, options)
    if description is not None:
        logger.info("%s: %r", description, transport)
    return transport, protocol


async def spawn(
    io: LoopIO,
    watcher: ChildWatcher,
    protocol: asyncio.SubprocessProtocol,
    args: Any,
    shell: bool,
    stdin: Any,
    stdout: Any,
    stderr: Any,
    extra: dict[str, Any] | None,
    kwargs: dict[str, Any],
) -> SubprocessTransport:
    """Start the child and return its transport once connection_made() has run."""
    popen = _start(args, shell, stdin, stdout, stderr, kwargs)
    loop = io.loop
    if loop.get_debug():
        program = args if isinstance(args, (bytes, str)) else args[0]
        logger.debug("process %r created: pid %s", program, popen.pid)
    transport = _connect(io, watcher, protocol, popen, extra)
    try:
        # One iteration: the pipes' connection_made(), then ours, run before this resumes.
        # (asyncio waits on a future set by a task instead: two iterations more per spawn.)
        await asyncio.sleep(0)
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException:
        transport.close()
        await transport._wait()
        raise
    return transport


def _start(
    args: Any, shell: bool, stdin: Any, stdout: Any, stderr: Any, kwargs: dict[str, Any]
) -> subprocess.Popen[bytes]:
    # Popen blocks only until the child has exec'd (it learns exec errors through a pipe):
    # short, and what asyncio does too.
    return subprocess.Popen(
        args,
        shell=shell,
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        universal_newlines=False,
        bufsize=0,
        **kwargs,
    )


def _connect(
    io: LoopIO,
    watcher: ChildWatcher,
    protocol: asyncio.SubprocessProtocol,
    popen: subprocess.Popen[bytes],
    extra: dict[str, Any] | None,
) -> SubprocessTransport:
    """Wrap the pipes, watch the child, schedule connection_made; undo it all on failure."""
    transport = SubprocessTransport(io.loop, protocol, popen, extra)
    try:
        _wrap_pipes(io, transport, popen)
        watcher.add_child(popen, transport._process_exited)
    except BaseException:
        _abandon(transport, popen)
        raise
    # After the pipes' connection_made() callbacks, which their constructors scheduled.
    io.loop.call_soon(transport._connected)
    return transport


def _wrap_pipes(io: LoopIO, transport: SubprocessTransport, popen: subprocess.Popen[bytes]) -> None:
    # Each pipe end knows its transport at once (connection_made() tells it again, soon), so
    # get_pipe_transport() and _abandon() can reach it before then.
    if popen.stdin is not None:
        end = transport._add_pipe(0)
        end.pipe = WritePipeTransport(io, popen.stdin, end)
    if popen.stdout is not None:
        end = transport._add_pipe(1)
        end.pipe = ReadPipeTransport(io, popen.stdout, end)
    if popen.stderr is not None:
        end = transport._add_pipe(2)
        end.pipe = ReadPipeTransport(io, popen.stderr, end)


def _abandon(transport: SubprocessTransport, popen: subprocess.Popen[bytes]) -> None:
    """Set-up failed after the child started: kill it, close its pipes, let it be reaped."""
    transport._closed = True  # nothing to warn about: the caller gets the exception
    try:
        os.kill(popen.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    for end in transport._pipes.values():
        if end.pipe is not None:
            end.pipe.close()  # closes its file once connection_lost() has run
    wrapped = {fd for fd, end in transport._pipes.items() if end.pipe is not None}
    for fd, stream in enumerate((popen.stdin, popen.stdout, popen.stderr)):
        if stream is not None and fd not in wrapped:
            stream.close()
    adopt_orphan(popen)
