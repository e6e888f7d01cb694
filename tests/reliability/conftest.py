"""The leak tripwire for the fault and soak suite: after each test module, nothing is left.

On top of the per-test fd and thread checks of tests/conftest.py: no new fds, threads or child
processes once the module is done, and no transport, server or task that only the cyclic GC
can free. The collector is off while the module runs; then one collection in DEBUG_SAVEALL mode
leaves in ``gc.garbage`` exactly what reference counting alone never freed, and a watched object
that is part of a cycle there (not merely held by a test's own cycle) fails the module.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

# Objects that must never need the cyclic GC (issue 13, defect 4).
_WATCHED = (asyncio.BaseTransport, asyncio.AbstractServer, asyncio.Task)


def _fds() -> set[int]:
    if sys.platform == "linux":
        return {int(name) for name in os.listdir("/proc/self/fd")}
    return set()


def _children() -> set[int]:
    """This process's child pids, from /proc (Linux); empty elsewhere."""
    found: set[int] = set()
    for task in Path("/proc/self/task").glob("*"):
        try:
            found.update(int(pid) for pid in (task / "children").read_text().split())
        except OSError:
            continue
    return found


def _open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def _cyclic_garbage() -> list[object]:
    """Watched objects that only the cyclic collector would free (the first collection since
    the module started, so nothing has freed them yet unless a threshold triggered one)."""
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        found = _in_cycles(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    return found


def _in_cycles(garbage: list[object]) -> list[object]:
    """The watched objects of ``garbage`` that are part of a cycle themselves. An object merely
    hanging off someone else's cycle (a test's traceback holding a transport) is freed with it,
    and says nothing about the object's own code."""
    ids = {id(obj) for obj in garbage}
    return [obj for obj in garbage if _watched(obj) and _reaches(obj, obj, ids)]


def _watched(obj: object) -> bool:
    if isinstance(obj, asyncio.Task):
        return True
    # Transports and servers: treadle's own. asyncio's loop, the oracle here, has a cycle of its
    # own in some stream teardowns (seen in the echo soak), which is not ours to judge.
    return isinstance(obj, _WATCHED) and type(obj).__module__.startswith("treadle")


def _reaches(start: object, target: object, ids: set[int]) -> bool:
    seen: set[int] = set()
    stack = list(gc.get_referents(start))
    while stack:
        obj = stack.pop()
        if obj is target:
            return True
        if id(obj) in seen or id(obj) not in ids:
            continue
        seen.add(id(obj))
        stack.extend(gc.get_referents(obj))
    return False


@pytest.fixture(autouse=True, scope="module")
def _module_leak_tripwire() -> Iterator[None]:
    gc.collect()
    gc.disable()  # automatic collections would free cycles before the check could see them
    fds = _fds()
    threads = set(threading.enumerate())
    children = _children()
    try:
        yield
    finally:
        gc.enable()
    problems: list[str] = []
    garbage = _cyclic_garbage()
    if garbage:
        problems.append(f"freed only by the cyclic GC: {garbage[:5]!r}")
    for _ in range(40):  # threads and children that were told to stop may take a moment
        new_fds = {fd for fd in _fds() - fds if _open(fd)}
        new_threads = {t for t in set(threading.enumerate()) - threads if t.is_alive()}
        new_children = _children() - children
        if not (new_fds or new_threads or new_children):
            break
        time.sleep(0.05)
    else:
        if new_fds:
            problems.append(f"fds left open: {sorted(new_fds)}")
        if new_threads:
            problems.append(f"threads left running: {sorted(t.name for t in new_threads)}")
        if new_children:
            problems.append(f"child processes left: {sorted(new_children)}")
    if problems:
        pytest.fail("module leak tripwire: " + "; ".join(problems), pytrace=False)
