"""Instruments: hooks for task spawned / scheduled / step / exited and before / after I/O wait.

Nothing is installed until the first instrument is added to a loop, so an uninstrumented loop pays
nothing at all. Adding one installs, on that loop:

- a task factory that hands asyncio's Task a thin coroutine of ours around the user's coroutine;
  it sees every step (``send``/``throw``) and every suspension (the future yielded), which gives
  ``before_task_step``/``after_task_step`` and, through a done callback on that future,
  ``task_scheduled``; a done callback on the task gives ``task_exited``;
- an I/O wait hook (``loop.add_io_wait_hook``) for ``before_io_wait``/``after_io_wait``.

Only tasks created after the first instrument was added are instrumented. An instrument defines any
subset of the hook methods (Trio's rule); a hook that raises is removed and its error reported to
the loop's exception handler.
"""

from __future__ import annotations

import asyncio
import collections.abc
from collections.abc import Coroutine, Generator
from typing import Any

_HOOKS = (
    "task_spawned",
    "task_scheduled",
    "before_task_step",
    "after_task_step",
    "task_exited",
    "before_io_wait",
    "after_io_wait",
)


class Instrument:
    """Base class with every hook as a no-op; subclass and override what you need."""

    def task_spawned(self, task: asyncio.Task[Any]) -> None: ...
    def task_scheduled(self, task: asyncio.Task[Any]) -> None: ...
    def before_task_step(self, task: asyncio.Task[Any]) -> None: ...
    def after_task_step(self, task: asyncio.Task[Any]) -> None: ...
    def task_exited(self, task: asyncio.Task[Any]) -> None: ...
    def before_io_wait(self, timeout: float) -> None: ...
    def after_io_wait(self, timeout: float) -> None: ...


class _Instruments:
    """The instruments of one loop and the hooks installed on it for them."""

    def __init__(self, loop: Any) -> None:
        self.loop = loop
        self.instruments: list[object] = []
        self.previous_factory: Any = None

    def call(self, hook: str, *args: Any) -> None:
        for instrument in list(self.instruments):
            method = getattr(instrument, hook, None)
            if method is None:
                continue
            try:
                method(*args)
            except Exception as error:
                self.instruments.remove(instrument)
                self.loop.call_exception_handler(
                    {
                        "message": f"instrument {instrument!r} raised in {hook}; it was removed",
                        "exception": error,
                    }
                )

    # The I/O wait hook protocol of core's scheduler.
    def before_io_wait(self, timeout: float) -> None:
        self.call("before_io_wait", timeout)

    def after_io_wait(self, timeout: float) -> None:
        self.call("after_io_wait", timeout)

    def task_factory(self, loop: Any, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
        wrapper = _Stepper(coro, self)
        if self.previous_factory is None:
            task: asyncio.Task[Any] = asyncio.Task(wrapper, loop=loop, **kwargs)
        else:
            task = self.previous_factory(loop, wrapper, **kwargs)
        wrapper.task = task
        task.add_done_callback(self._exited)
        self.call("task_spawned", task)
        self.call("task_scheduled", task)
        return task

    def _exited(self, task: asyncio.Task[Any]) -> None:
        self.call("task_exited", task)


class _Stepper(collections.abc.Coroutine[Any, Any, Any]):
    """The coroutine asyncio's Task drives when instruments are on: reports each step."""

    __slots__ = ("_coro", "_set", "task")

    def __init__(self, coro: Coroutine[Any, Any, Any], instruments: _Instruments) -> None:
        self._coro = coro
        self._set = instruments
        self.task: asyncio.Task[Any] | None = None

    def send(self, value: Any) -> Any:
        self._set.call("before_task_step", self.task)
        try:
            yielded = self._coro.send(value)
        finally:
            self._set.call("after_task_step", self.task)
        self._watch(yielded)
        return yielded

    def throw(self, *args: Any) -> Any:
        self._set.call("before_task_step", self.task)
        try:
            yielded = self._coro.throw(*args)
        finally:
            self._set.call("after_task_step", self.task)
        self._watch(yielded)
        return yielded

    def close(self) -> None:
        self._coro.close()

    def __await__(self) -> Generator[Any, None, Any]:
        return self  # type: ignore[return-value]  # an iterator over the wrapped coroutine

    def __next__(self) -> Any:
        return self.send(None)

    def _watch(self, yielded: Any) -> None:
        if yielded is None:
            self._set.call("task_scheduled", self.task)  # a bare yield: runnable again at once
        elif asyncio.isfuture(yielded):
            yielded.add_done_callback(self._scheduled)

    def _scheduled(self, _: Any) -> None:
        self._set.call("task_scheduled", self.task)

    # What asyncio's repr and get_stack() read from the coroutine.
    @property
    def cr_frame(self) -> Any:
        return getattr(self._coro, "cr_frame", None)

    @property
    def cr_await(self) -> Any:
        return getattr(self._coro, "cr_await", None)

    @property
    def cr_running(self) -> bool:
        return bool(getattr(self._coro, "cr_running", False))

    @property
    def cr_suspended(self) -> bool:
        return bool(getattr(self._coro, "cr_suspended", False))


_by_loop: dict[int, _Instruments] = {}


def add_instrument(instrument: object, loop: asyncio.AbstractEventLoop | None = None) -> None:
    """Start calling ``instrument``'s hooks on ``loop`` (default: the running loop).

    The I/O wait hooks need a treadle loop; task hooks work on any loop with a task factory.
    """
    if loop is None:
        loop = asyncio.get_running_loop()
    registry = _by_loop.get(id(loop))
    if registry is None:
        registry = _by_loop[id(loop)] = _Instruments(loop)
        registry.previous_factory = loop.get_task_factory()
        loop.set_task_factory(registry.task_factory)
        add_hook = getattr(loop, "add_io_wait_hook", None)
        if add_hook is not None:
            add_hook(registry)
    if instrument not in registry.instruments:
        registry.instruments.append(instrument)


def remove_instrument(instrument: object, loop: asyncio.AbstractEventLoop | None = None) -> None:
    """Stop calling ``instrument``; the last removal uninstalls every hook. KeyError if absent."""
    if loop is None:
        loop = asyncio.get_running_loop()
    registry = _by_loop.get(id(loop))
    if registry is None or instrument not in registry.instruments:
        raise KeyError(f"instrument {instrument!r} is not installed on this loop")
    registry.instruments.remove(instrument)
    if not registry.instruments:
        del _by_loop[id(loop)]
        loop.set_task_factory(registry.previous_factory)
        remove_hook = getattr(loop, "remove_io_wait_hook", None)
        if remove_hook is not None:
            remove_hook(registry)
