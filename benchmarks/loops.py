"""Turn a loop name from the command line into a function that makes a fresh event loop.

Known names:

- ``asyncio``: ``asyncio.new_event_loop()`` under the default policy (a selector loop on Unix).
- ``uvloop``: ``uvloop.new_event_loop()``.
- ``treadle``: ``treadle.core.new_event_loop()`` with the OS's default poller, in whichever
  variant is installed (compiled when installed with ``TREADLE_COMPILE=1``).
- ``treadle-pure``: the same, forcing the pure-Python modules (``TREADLE_PURE_PYTHON=1``).
- ``treadle-compiled``: the same, refusing to run unless the compiled modules load, so a report
  never labels the pure variant "compiled".
- ``treadle-<poller>``: ``treadle.core.new_event_loop(poller="<poller>")``, e.g. ``treadle-select``.
- ``epoll-floor``: not a loop. Echo benchmarks over TCP and Unix sockets then serve with a bare
  epoll loop (``benchmarks/echo/floor.py``), and the subprocess rows run the same children
  with no loop at all (``benchmarks/subprocesses.py``): the pure-Python floor, for context;
  the runner measures it on those rows only.
- ``module:callable``: any zero-argument factory, e.g. ``mypkg.loops:make_loop``.

Loop libraries are imported lazily with importlib so that the runner and mypy never need them.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import importlib.metadata
import os
import platform
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import cast

LoopFactory = Callable[[], asyncio.AbstractEventLoop]

TREADLE_PREFIX = "treadle-"


def resolve(name: str) -> LoopFactory:
    """Return the factory for ``name``; raise ImportError/AttributeError/ValueError if unusable."""
    if name == "asyncio":
        return asyncio.new_event_loop
    if name == "uvloop":
        return _attribute("uvloop", "new_event_loop")
    if name == "treadle":
        return _attribute("treadle.core", "new_event_loop")
    if name == FLOOR:
        return EpollFloor()
    if name == "treadle-pure":
        if "treadle" in sys.modules:
            raise RuntimeError("treadle-pure must be chosen before treadle is imported")
        os.environ["TREADLE_PURE_PYTHON"] = "1"  # read by treadle's first import, just below
        return _attribute("treadle.core", "new_event_loop")
    if name == "treadle-compiled":
        factory = _attribute("treadle.core", "new_event_loop")
        if not getattr(sys.modules["treadle"], "compiled", False):
            raise ImportError(
                "treadle's compiled core is not installed (TREADLE_COMPILE=1 pip install .)"
            )
        return factory
    if name.startswith(TREADLE_PREFIX):
        factory = _attribute("treadle.core", "new_event_loop")
        return functools.partial(factory, poller=name.removeprefix(TREADLE_PREFIX))
    if ":" in name:
        module, _, attribute = name.partition(":")
        return _attribute(module, attribute)
    raise ValueError(
        f"unknown loop {name!r}: use asyncio, uvloop, treadle, treadle-<poller> or module:callable"
    )


FLOOR = "epoll-floor"


class EpollFloor:
    """The ``epoll-floor`` entry: echo() sees ``echo_floor`` and serves without a loop; the
    subprocess workloads see ``subprocess_floor`` and run their children without one."""

    echo_floor = True
    subprocess_floor = True

    def __call__(self) -> asyncio.AbstractEventLoop:
        return asyncio.new_event_loop()  # for the runner's probe only


def measures(loop: str, benchmark: str) -> bool:
    """Whether the runner measures ``benchmark`` on ``loop`` (the floor: stream echo and the
    one-at-a-time subprocess rows only)."""
    if loop != FLOOR:
        return True
    if benchmark in ("subprocess_spawn_wait", "subprocess_pipe_throughput"):
        return True
    return benchmark.startswith("echo_") and "_udp_" not in benchmark


def version(name: str) -> str:
    """The version of the library behind loop ``name``, for the report's header."""
    if name in ("asyncio", FLOOR):
        return f"(Python {platform.python_version()})"
    distribution = name.partition(":")[0].partition(".")[0]
    if name.startswith(TREADLE_PREFIX):
        distribution = "treadle"
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "(version unknown)"


@contextmanager
def fresh_loop(factory: LoopFactory) -> Iterator[asyncio.AbstractEventLoop]:
    """A new loop for one run, closed afterwards so no fd or thread outlives the run."""
    loop = factory()
    try:
        yield loop
    finally:
        loop.close()


def _attribute(module_name: str, dotted: str) -> Callable[..., asyncio.AbstractEventLoop]:
    target: object = importlib.import_module(module_name)
    for part in dotted.split("."):
        target = getattr(target, part)
    if not callable(target):
        raise TypeError(f"{module_name}:{dotted} is not callable")
    return cast("Callable[..., asyncio.AbstractEventLoop]", target)
