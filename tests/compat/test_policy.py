"""treadle.EventLoopPolicy and install(): same per-thread behaviour as asyncio's default policy.

Each behaviour test runs one scenario against a fresh asyncio default policy (the oracle) and a
fresh treadle policy, and compares what was observed: results, errors and their messages, and the
warnings with the file and line they point at.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import subprocess
import sys
import textwrap
import threading
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import treadle

PIPE = subprocess.PIPE

Trace = list[Any]
Scenario = Callable[[asyncio.AbstractEventLoopPolicy, Trace], None]


@pytest.fixture
def restore_policy() -> Iterator[None]:
    """Put back whatever policy was installed before the test."""
    saved = asyncio.get_event_loop_policy()
    try:
        yield
    finally:
        asyncio.set_event_loop_policy(saved)


def _trace(policy: asyncio.AbstractEventLoopPolicy, scenario: Scenario) -> Trace:
    """Run ``scenario`` on ``policy`` and return what it recorded, then the warnings it caused.

    Scenarios close every loop they make or get.
    """
    trace: Trace = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scenario(policy, trace)
    trace += [(type(w.message).__name__, str(w.message), w.filename, w.lineno) for w in caught]
    return trace


def _same_on_both(scenario: Scenario) -> Trace:
    oracle = _trace(asyncio.DefaultEventLoopPolicy(), scenario)
    subject = _trace(treadle.EventLoopPolicy(), scenario)
    assert subject == oracle
    return subject


def _error(call: Callable[[], object]) -> tuple[str, str]:
    try:
        call()
    except Exception as exc:  # the type is part of what we compare
        return type(exc).__name__, str(exc)
    pytest.fail("no exception raised")


# --- side by side with asyncio's default policy ---------------------------------------------------


def test_get_event_loop_creates_a_loop_in_main_thread_once() -> None:
    def scenario(policy: asyncio.AbstractEventLoopPolicy, trace: Trace) -> None:
        first = policy.get_event_loop()  # 3.12+ warns here, pointing at this line
        trace.append(isinstance(first, asyncio.AbstractEventLoop))
        trace.append(policy.get_event_loop() is first)
        first.close()

    trace = _same_on_both(scenario)
    warned = [entry for entry in trace if isinstance(entry, tuple)]
    if sys.version_info >= (3, 12):
        assert warned == [
            ("DeprecationWarning", "There is no current event loop", __file__, warned[0][3])
        ]
    else:
        assert warned == []


def test_get_event_loop_after_set_none_raises() -> None:
    def scenario(policy: asyncio.AbstractEventLoopPolicy, trace: Trace) -> None:
        policy.set_event_loop(None)
        trace.append(_error(policy.get_event_loop))

    trace = _same_on_both(scenario)
    assert trace == [
        ("RuntimeError", "There is no current event loop in thread 'MainThread'."),
    ]


def test_get_event_loop_in_other_thread_raises_until_set() -> None:
    def scenario(policy: asyncio.AbstractEventLoopPolicy, trace: Trace) -> None:
        def worker() -> None:
            trace.append(_error(policy.get_event_loop))
            loop = policy.new_event_loop()
            try:
                policy.set_event_loop(loop)
                trace.append(policy.get_event_loop() is loop)
            finally:
                policy.set_event_loop(None)
                loop.close()

        thread = threading.Thread(target=worker, name="worker-7")
        thread.start()
        thread.join()

    trace = _same_on_both(scenario)
    assert trace == [("RuntimeError", "There is no current event loop in thread 'worker-7'."), True]


def test_set_event_loop_rejects_non_loop() -> None:
    def scenario(policy: asyncio.AbstractEventLoopPolicy, trace: Trace) -> None:
        trace.append(_error(lambda: policy.set_event_loop("loop")))  # type: ignore[arg-type]

    _same_on_both(scenario)


def test_set_event_loop_makes_loop_current_without_warning() -> None:
    def scenario(policy: asyncio.AbstractEventLoopPolicy, trace: Trace) -> None:
        loop = policy.new_event_loop()
        policy.set_event_loop(loop)
        trace.append(policy.get_event_loop() is loop)
        loop.close()

    assert _same_on_both(scenario) == [True]


def test_new_event_loop_is_fresh_and_not_current() -> None:
    def scenario(policy: asyncio.AbstractEventLoopPolicy, trace: Trace) -> None:
        first = policy.new_event_loop()
        second = policy.new_event_loop()
        try:
            trace.append(first is second)
            policy.set_event_loop(None)
            trace.append(_error(policy.get_event_loop))
        finally:
            first.close()
            second.close()

    _same_on_both(scenario)


def test_module_get_event_loop_warning_points_at_caller(restore_policy: None) -> None:
    # Through asyncio.get_event_loop(), the warning must still name this file and line.
    def scenario(policy: asyncio.AbstractEventLoopPolicy, trace: Trace) -> None:
        asyncio.set_event_loop_policy(policy)
        loop = asyncio.get_event_loop()
        trace.append(loop is policy.get_event_loop())
        loop.close()

    trace = _same_on_both(scenario)
    assert trace[0] is True
    assert all(entry[2] == __file__ for entry in trace[1:])


def test_implicit_loop_warning_skips_asyncio_frames(restore_policy: None) -> None:
    # wrap_future() asks for the loop from inside asyncio; the warning must skip those frames.
    def scenario(policy: asyncio.AbstractEventLoopPolicy, trace: Trace) -> None:
        asyncio.set_event_loop_policy(policy)
        wrapped = asyncio.wrap_future(concurrent.futures.Future[None]())
        loop = wrapped.get_loop()
        trace.append(loop is policy.get_event_loop())
        loop.close()

    trace = _same_on_both(scenario)
    assert trace[0] is True
    assert all(entry[2] == __file__ for entry in trace[1:])


# --- treadle loops through the policy -------------------------------------------------------------


def test_policy_makes_treadle_loops(restore_policy: None) -> None:
    asyncio.set_event_loop_policy(treadle.EventLoopPolicy())
    loop = asyncio.new_event_loop()
    try:
        assert isinstance(loop, treadle.EventLoop)
    finally:
        loop.close()


def test_asyncio_run_under_policy_runs_on_treadle(restore_policy: None) -> None:
    asyncio.set_event_loop_policy(treadle.EventLoopPolicy())

    async def main() -> bool:
        return isinstance(asyncio.get_running_loop(), treadle.EventLoop)

    assert asyncio.run(main()) is True


POLICIES: list[Callable[[], Any]] = [asyncio.DefaultEventLoopPolicy, treadle.EventLoopPolicy]


def _child_watcher_call(policy: Any, method: str, *args: Any) -> tuple[Any, list[str]]:
    """Call a child watcher method; return its result and the warnings it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = getattr(policy, method)(*args)
    return result, [f"{w.category.__name__}: {w.message}" for w in caught]


@pytest.mark.parametrize("make_policy", POLICIES, ids=["asyncio", "treadle"])
def test_get_child_watcher_matches_asyncio(make_policy: Callable[[], Any]) -> None:
    policy = make_policy()
    watcher, caught = _child_watcher_call(policy, "get_child_watcher")
    expected = "ThreadedChildWatcher"
    if sys.version_info >= (3, 12):
        expected = "PidfdChildWatcher"  # pidfds work here (checked by the core tests)
    assert type(watcher).__name__ == expected
    again, _ = _child_watcher_call(policy, "get_child_watcher")
    assert again is watcher
    if sys.version_info >= (3, 12):
        assert caught == [
            "DeprecationWarning: 'get_child_watcher' is deprecated as of Python 3.12 and will "
            "be removed in Python 3.14."
        ]
    else:
        assert caught == []
    _child_watcher_call(policy, "set_child_watcher", None)


@pytest.mark.parametrize("make_policy", POLICIES, ids=["asyncio", "treadle"])
def test_set_child_watcher_matches_asyncio(make_policy: Callable[[], Any]) -> None:
    policy = make_policy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        mine = asyncio.ThreadedChildWatcher()
    _, caught = _child_watcher_call(policy, "set_child_watcher", mine)
    assert _child_watcher_call(policy, "get_child_watcher")[0] is mine
    if sys.version_info >= (3, 12):
        assert caught == [
            "DeprecationWarning: 'set_child_watcher' is deprecated as of Python 3.12 and will "
            "be removed in Python 3.14."
        ]
    else:
        assert caught == []
    with pytest.raises(AssertionError):
        _child_watcher_call(policy, "set_child_watcher", object())
    _child_watcher_call(policy, "set_child_watcher", None)


def test_treadle_loop_ignores_the_policy_child_watcher(restore_policy: None) -> None:
    # Code written for asyncio sets a watcher, then spawns: treadle's loop watches itself.
    asyncio.set_event_loop_policy(treadle.EventLoopPolicy())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        asyncio.set_child_watcher(asyncio.ThreadedChildWatcher())

    async def main() -> tuple[bool, bytes]:
        proc = await asyncio.create_subprocess_exec("cat", stdin=PIPE, stdout=PIPE)
        out, _ = await proc.communicate(b"ok")
        return isinstance(asyncio.get_running_loop(), treadle.EventLoop), out

    assert asyncio.run(main()) == (True, b"ok")


def test_asyncio_loop_spawns_under_treadle_policy(restore_policy: None) -> None:
    # asyncio's own loop asks the current policy for a watcher when it spawns.
    asyncio.set_event_loop_policy(treadle.EventLoopPolicy())

    async def main() -> int:
        proc = await asyncio.create_subprocess_exec("true")
        return await proc.wait()

    loop = asyncio.SelectorEventLoop()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            assert loop.run_until_complete(main()) == 0
    finally:
        loop.close()


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_forked_child_does_not_inherit_current_loop() -> None:
    # Forking inside the threaded test process would warn on 3.12+, so fork in a fresh one.
    script = textwrap.dedent(
        """
        import asyncio, os, warnings
        import treadle

        warnings.simplefilter("ignore", DeprecationWarning)
        policy = treadle.EventLoopPolicy()
        parent_loop = policy.new_event_loop()
        policy.set_event_loop(parent_loop)
        pid = os.fork()
        if pid == 0:
            child_loop = policy.get_event_loop()
            ok = child_loop is not parent_loop and isinstance(child_loop, treadle.EventLoop)
            os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        parent_loop.close()
        print("child exit", os.waitstatus_to_exitcode(status))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.stderr == ""
    assert done.stdout == "child exit 0\n"


# --- install() -----------------------------------------------------------------------------------


@pytest.mark.skipif(sys.version_info < (3, 12), reason="install() warns on 3.12+ only")
def test_install_warns_on_312_and_later(restore_policy: None) -> None:
    with pytest.warns(DeprecationWarning, match=r"treadle\.run") as record:
        treadle.install()
    assert record[0].filename == __file__
    assert isinstance(asyncio.get_event_loop_policy(), treadle.EventLoopPolicy)


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="3.11 only: install() warns on 3.12+")
def test_install_is_silent_on_311(restore_policy: None) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        treadle.install()
    assert isinstance(asyncio.get_event_loop_policy(), treadle.EventLoopPolicy)


def test_install_makes_asyncio_new_event_loop_treadle(restore_policy: None) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        treadle.install()
    loop = asyncio.new_event_loop()
    try:
        assert isinstance(loop, treadle.EventLoop)
    finally:
        loop.close()
