"""treadle's child watchers: pidfd and the SIGCHLD fallback, forced through the environment.

These are treadle-only (asyncio has its own watchers): each behaviour runs once per watcher,
and the loop-closing tests check that no child is left a zombie.
"""

from __future__ import annotations

import asyncio
import errno
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from subprocess_helpers import zombie_children

from treadle.core import EventLoop, new_event_loop
from treadle.core.subprocess import orphan_count

PIPE = subprocess.PIPE
DEVNULL = subprocess.DEVNULL

WATCHERS = {"pidfd": "PidfdWatcher", "sigchld": "SigchldWatcher"}


@pytest.fixture(params=sorted(WATCHERS))
def watcher(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("TREADLE_CHILD_WATCHER", request.param)
    return str(request.param)


@pytest.fixture
def tloop(watcher: str) -> Iterator[EventLoop]:
    loop = new_event_loop()
    yield loop
    loop.close()


def _wait_until(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_environment_picks_the_watcher(tloop: EventLoop, watcher: str) -> None:
    assert type(tloop._child_watcher()).__name__ == WATCHERS[watcher]


def test_unknown_watcher_name_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TREADLE_CHILD_WATCHER", "threads")
    loop = new_event_loop()
    try:
        with pytest.raises(ValueError, match="TREADLE_CHILD_WATCHER"):
            loop.run_until_complete(asyncio.create_subprocess_exec("true"))
    finally:
        loop.close()


def test_communicate_and_exit_status(tloop: EventLoop) -> None:
    async def main() -> tuple[bytes, int]:
        proc = await asyncio.create_subprocess_shell("cat; exit 7", stdin=PIPE, stdout=PIPE)
        out, _ = await proc.communicate(b"x" * 300_000)
        return out, await proc.wait()

    assert tloop.run_until_complete(main()) == (b"x" * 300_000, 7)


def test_many_children_are_each_reaped_once(tloop: EventLoop) -> None:
    async def one() -> int:
        proc = await asyncio.create_subprocess_exec("true")
        return await proc.wait()

    async def main() -> list[int]:
        return await asyncio.gather(*(one() for _ in range(100)))

    assert tloop.run_until_complete(main()) == [0] * 100
    assert len(tloop._child_watcher()) == 0
    assert zombie_children() == []


def test_killed_child_reports_negative_signal(tloop: EventLoop) -> None:
    async def main() -> int:
        proc = await asyncio.create_subprocess_exec("sleep", "30")
        proc.kill()
        return await proc.wait()

    assert tloop.run_until_complete(main()) == -signal.SIGKILL


def test_loop_in_other_thread(watcher: str) -> None:
    # For "sigchld" this thread cannot install the handler: the watcher sweeps on a timer.
    results: list[Any] = []

    async def main() -> tuple[bytes, int]:
        proc = await asyncio.create_subprocess_exec("cat", stdin=PIPE, stdout=PIPE)
        out, _ = await proc.communicate(b"hello")
        return out, await proc.wait()

    def in_thread() -> None:
        loop = new_event_loop()
        try:
            results.append(loop.run_until_complete(main()))
        finally:
            loop.close()

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join(30)
    assert results == [(b"hello", 0)]


def test_sigchld_handler_is_restored_when_last_loop_closes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TREADLE_CHILD_WATCHER", "sigchld")
    before = signal.getsignal(signal.SIGCHLD)
    loop = new_event_loop()
    try:
        loop.run_until_complete(_run_true())
        assert signal.getsignal(signal.SIGCHLD) is not before
    finally:
        loop.close()
    assert signal.getsignal(signal.SIGCHLD) == before


async def _run_true() -> int:
    proc = await asyncio.create_subprocess_exec("true")
    return await proc.wait()


def test_child_outliving_its_loop_is_reaped_by_the_orphan_reaper(watcher: str) -> None:
    loop = new_event_loop()
    transport, _ = loop.run_until_complete(
        loop.subprocess_exec(
            asyncio.SubprocessProtocol,
            "sleep",
            "0.2",
            stdin=DEVNULL,
            stdout=DEVNULL,
            stderr=DEVNULL,
        )
    )
    pid = transport.get_pid()
    loop.close()  # the child is still running: handed to the reaper, not killed
    assert orphan_count() >= 1
    _wait_until(lambda: orphan_count() == 0)
    assert pid not in zombie_children()
    popen = transport.get_extra_info("subprocess")
    assert popen.returncode == 0  # it ran to completion
    transport.close()  # nothing left to kill: no signal sent to a reused pid


def test_collected_transport_warns_and_its_child_is_killed_and_reaped(watcher: str) -> None:
    loop = new_event_loop()
    transport, _ = loop.run_until_complete(
        loop.subprocess_exec(
            asyncio.SubprocessProtocol, "sleep", "30", stdin=DEVNULL, stdout=DEVNULL, stderr=DEVNULL
        )
    )
    pid = transport.get_pid()
    popen = transport.get_extra_info("subprocess")
    loop.close()
    holder = [transport]
    del transport
    with pytest.warns(ResourceWarning, match="unclosed transport <SubprocessTransport"):
        holder.clear()  # the last reference: collected at once
    _wait_until(lambda: popen.returncode is not None)
    assert popen.returncode == -signal.SIGKILL
    assert pid not in zombie_children()


def test_child_reaped_elsewhere_reports_255_with_a_warning(
    tloop: EventLoop, caplog: pytest.LogCaptureFixture
) -> None:
    async def main() -> int:
        transport, _ = await tloop.subprocess_exec(
            asyncio.SubprocessProtocol,
            "sleep",
            "0.1",
            stdin=DEVNULL,
            stdout=DEVNULL,
            stderr=DEVNULL,
        )
        _reap_elsewhere(transport.get_pid())
        code = await transport._wait()
        transport.close()
        return int(code)

    assert tloop.run_until_complete(main()) == 255
    assert "exit status already read:  will report returncode 255" in caplog.text


def test_child_reaped_by_its_popen_keeps_its_returncode(tloop: EventLoop) -> None:
    async def main() -> int:
        transport, _ = await tloop.subprocess_exec(
            asyncio.SubprocessProtocol,
            "sleep",
            "0.1",
            stdin=DEVNULL,
            stdout=DEVNULL,
            stderr=DEVNULL,
        )
        _popen_reaps(transport.get_extra_info("subprocess"))
        code = await transport._wait()
        transport.close()
        return int(code)

    assert tloop.run_until_complete(main()) == 0


def _reap_elsewhere(pid: int) -> None:
    """What code calling waitpid() behind the loop's back does (blocks until the exit)."""
    os.waitpid(pid, 0)


def _popen_reaps(popen: subprocess.Popen[bytes]) -> None:
    popen.wait()


def test_watch_failure_kills_child_and_closes_its_pipes(monkeypatch: pytest.MonkeyPatch) -> None:
    # Fault injection: the kernel refusing a pidfd (EMFILE) after the child has started.
    monkeypatch.setenv("TREADLE_CHILD_WATCHER", "pidfd")

    def refuse(pid: int, flags: int = 0) -> int:
        raise OSError(errno.EMFILE, "Too many open files")

    monkeypatch.setattr(os, "pidfd_open", refuse)
    loop = new_event_loop()
    try:
        with pytest.raises(OSError, match="Too many open files"):
            loop.run_until_complete(
                asyncio.create_subprocess_exec("sleep", "30", stdin=PIPE, stdout=PIPE)
            )
        loop.run_until_complete(asyncio.sleep(0.01))  # the pipes' connection_lost()
    finally:
        loop.close()
    _wait_until(lambda: orphan_count() == 0)  # killed, then reaped by the orphan reaper
    assert zombie_children() == []


def test_sigchld_loop_in_other_thread_while_main_loop_sleeps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The main thread's loop installed the SIGCHLD handler and then sleeps in its poll, waiting
    # for the thread. SIGCHLD goes to the thread that started the child, so the handler (main
    # thread only) did not run and the thread's loop used to wait for its child forever.
    monkeypatch.setenv("TREADLE_CHILD_WATCHER", "sigchld")

    async def child_in_thread() -> int:
        proc = await asyncio.create_subprocess_exec("true")
        return await asyncio.wait_for(proc.wait(), 10)

    def in_thread() -> int:
        loop = new_event_loop()
        try:
            return loop.run_until_complete(child_in_thread())
        finally:
            loop.close()

    async def main() -> int:
        await _run_true()  # installs the handler, from the main thread
        return await asyncio.to_thread(in_thread)

    loop = new_event_loop()
    try:
        assert loop.run_until_complete(main()) == 0
    finally:
        loop.close()
