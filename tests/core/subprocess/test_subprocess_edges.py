"""Subprocess edge cases: kills, broken pipes, many children, threads, cancellation.

Same test body on asyncio's loop and on every treadle poller; real children throughout.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import threading
from typing import Any

import pytest
from subprocess_helpers import PY, RecordingProtocol, children, zombie_children

Loop = asyncio.AbstractEventLoop
PIPE = subprocess.PIPE

# Prints "ready" once its SIGTERM handling is in place, then sleeps.
IGNORES_SIGTERM = (
    "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('ready', flush=True); time.sleep(30)"
)


def test_child_killed_with_output_pending(loop: Loop) -> None:
    # 50 kB fits in a pipe's buffer (64 KiB on Linux): all of it is written before the kill.
    script = "import sys, time; sys.stdout.write('x' * 50000); sys.stdout.flush(); time.sleep(30)"

    async def main() -> tuple[int, int]:
        proc = await asyncio.create_subprocess_exec(PY, "-c", script, stdout=PIPE)
        assert proc.stdout is not None
        first = await proc.stdout.readexactly(10)  # the rest may still be in the pipe
        proc.kill()
        rest = await proc.stdout.read()  # what the child wrote, then EOF
        return len(first) + len(rest), await proc.wait()

    assert loop.run_until_complete(main()) == (50000, -signal.SIGKILL)


def test_child_exiting_before_reading_stdin(loop: Loop) -> None:
    # communicate() swallows BrokenPipeError; nothing may reach the loop's exception handler.
    async def main() -> tuple[bytes, int | None]:
        proc = await asyncio.create_subprocess_exec("true", stdin=PIPE, stdout=PIPE)
        out, _ = await proc.communicate(b"x" * (1024 * 1024))
        return out, proc.returncode

    assert loop.run_until_complete(main()) == (b"", 0)


def test_write_after_child_exit_reports_broken_pipe_to_protocol(loop: Loop) -> None:
    async def main() -> list[str]:
        transport, protocol = await loop.subprocess_exec(RecordingProtocol, "true", stdout=None)
        await transport._wait()  # returns once reaped; the stdin pipe stays open
        stdin = transport.get_pipe_transport(0)
        for _ in range(20):  # the pipe buffer fills, then EPIPE
            if stdin.is_closing():
                break
            stdin.write(b"x" * 65536)
            await asyncio.sleep(0.01)
        await protocol.done
        transport.close()
        return protocol.events

    events = loop.run_until_complete(main())
    # BrokenPipeError when bytes were still buffered as the reader went away, else None.
    lost = [event for event in events if event.startswith("pipe_connection_lost 0")]
    assert lost in (["pipe_connection_lost 0 BrokenPipeError"], ["pipe_connection_lost 0 None"])
    assert events[-1] == "connection_lost None"


def test_two_hundred_children_in_parallel_leave_no_fd_or_zombie(loop: Loop) -> None:
    fds_before = _pipe_and_pidfd_fds()

    async def one() -> int:
        proc = await asyncio.create_subprocess_exec("true", stdin=PIPE, stdout=PIPE)
        out, _ = await proc.communicate()
        assert out == b""
        return await proc.wait()

    async def main() -> list[int]:
        return await asyncio.gather(*(one() for _ in range(200)))

    assert loop.run_until_complete(main()) == [0] * 200
    assert zombie_children() == []
    # Checked with the loop still open; the tripwire checks every fd again once it is closed.
    assert _pipe_and_pidfd_fds() - fds_before == set()


def _pipe_and_pidfd_fds() -> set[str]:
    """This process's fds that are pipes or pidfds, as "fd -> target"."""
    found = set()
    for name in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue  # the listing's own fd, closed by now
        if target.startswith("pipe:") or "pidfd" in target:
            found.add(f"{name} -> {target}")
    return found


def test_child_ignoring_sigterm_is_killed(loop: Loop) -> None:
    async def main() -> int:
        proc = await asyncio.create_subprocess_exec(PY, "-c", IGNORES_SIGTERM, stdout=PIPE)
        assert proc.stdout is not None
        assert await proc.stdout.readline() == b"ready\n"
        proc.terminate()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(proc.wait(), 0.2)
        assert proc.returncode is None
        proc.kill()
        return await proc.wait()

    assert loop.run_until_complete(main()) == -signal.SIGKILL


def test_closing_transport_kills_running_child(loop: Loop) -> None:
    async def main() -> tuple[int | None, list[str]]:
        transport, protocol = await loop.subprocess_exec(RecordingProtocol, "sleep", "30")
        transport.close()
        assert transport.is_closing()
        await protocol.done
        return transport.get_returncode(), protocol.events

    returncode, events = loop.run_until_complete(main())
    assert returncode == -signal.SIGKILL
    assert events[0] == "connection_made"
    assert "process_exited" in events
    assert events[-1] == "connection_lost None"


def test_spawn_from_loop_in_other_thread(loop_factory: Any) -> None:
    result: list[Any] = []

    async def main() -> tuple[bytes, int]:
        proc = await asyncio.create_subprocess_exec("cat", stdin=PIPE, stdout=PIPE)
        out, _ = await proc.communicate(b"from a thread")
        return out, await proc.wait()

    def in_thread() -> None:
        thread_loop = loop_factory()
        try:
            result.append(thread_loop.run_until_complete(main()))
        except BaseException as exc:
            result.append(exc)
        finally:
            thread_loop.close()

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join(30)
    assert result == [(b"from a thread", 0)]


def test_cancelling_communicate_half_way(loop: Loop) -> None:
    # The child never reads stdin, so communicate() blocks in drain() with the pipe full.
    script = "import sys, time; print('started', flush=True); time.sleep(30)"

    async def main() -> int:
        proc = await asyncio.create_subprocess_exec(PY, "-c", script, stdin=PIPE, stdout=PIPE)
        assert proc.stdout is not None
        task = asyncio.ensure_future(proc.communicate(b"x" * (4 * 1024 * 1024)))
        await asyncio.sleep(0.1)
        assert not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        proc.kill()
        code = await proc.wait()
        await _transport_finished(proc)
        return code

    assert loop.run_until_complete(main()) == -signal.SIGKILL


async def _transport_finished(proc: Any) -> None:
    """Let the pipes' connection_lost run: wait() may return before they have closed."""
    transport = proc._transport
    for _ in range(100):
        if all(
            transport.get_pipe_transport(fd) is None
            or transport.get_pipe_transport(fd).is_closing()
            for fd in (0, 1, 2)
        ):
            break
        await asyncio.sleep(0.01)
    transport.close()
    await asyncio.sleep(0.05)


def test_wait_for_timeout_on_wait_then_kill_leaves_no_zombie(loop: Loop) -> None:
    async def main() -> int:
        proc = await asyncio.create_subprocess_exec("sleep", "30")
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(proc.wait(), 0.05)
        proc.kill()
        return await proc.wait()

    assert loop.run_until_complete(main()) == -signal.SIGKILL
    assert zombie_children() == []


def test_subprocess_exec_cancelled_while_connecting_kills_child(loop: Loop) -> None:
    async def main() -> None:
        task = asyncio.ensure_future(loop.subprocess_exec(RecordingProtocol, "sleep", "30"))
        await asyncio.sleep(0)  # the spawn has started; connection_made has not run
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.05)

    before = set(children())
    loop.run_until_complete(main())
    assert set(children()) - before == set()
