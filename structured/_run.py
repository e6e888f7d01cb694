"""run(): treadle's one way to run a program, asyncio.run()'s steps with Ctrl-C as cancellation.

``treadle.run`` and ``treadle.structured.run`` are this function (compat re-exports it). It is
built on ``asyncio.Runner`` (3.11+), so task cancellation at exit, async generator finalization
and executor shutdown are asyncio's own, identical to ``asyncio.run()``. Two things are ours: the
loop, and Ctrl-C.

Ctrl-C: asyncio.Runner answers SIGINT with ``main_task.cancel()``, which no shield can stop. Here
the first SIGINT cancels a root cancel scope around the main coroutine instead, so the program
unwinds level-triggered and shielded scopes finish their work; once the root scope has caught the
cancellation, run() raises KeyboardInterrupt. A second SIGINT raises KeyboardInterrupt at once,
the way out of a program stuck in a shielded scope.

The KeyboardInterrupt carries the traceback of the cancellation that unwound the program, so it
ends at the line the program was waiting on (asyncio.run() shows that line too, as the
CancelledError "during handling of which" KeyboardInterrupt was raised). It is raised from run()
itself, not from inside the main task, so the loop's own frames stay out of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import signal
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from types import TracebackType
from typing import Any, TypeVar, overload

from treadle.core import Clock, EventLoop, new_event_loop

from ._cancel import CancelScope
from ._introspection import hidden_from_task_tree
from ._spawn_checks import coroutine_or_error

__all__ = ["run"]

_T = TypeVar("_T")


@overload
def run(
    main: Coroutine[Any, Any, _T],
    *,
    debug: bool | None = None,
    clock: Clock | None = None,
    poller: str | None = None,
) -> _T: ...


@overload
def run(
    main: Callable[..., Awaitable[_T]],
    *args: Any,
    debug: bool | None = None,
    clock: Clock | None = None,
    poller: str | None = None,
) -> _T: ...


def run(
    main: Callable[..., Awaitable[_T]] | Coroutine[Any, Any, _T],
    *args: Any,
    debug: bool | None = None,
    clock: Clock | None = None,
    poller: str | None = None,
) -> _T:
    """Run ``main(*args)`` (an async function and its arguments, or a coroutine) on a new treadle
    loop and return its result.

    The treadle counterpart of ``asyncio.run()`` and ``trio.run()``: same steps, same errors as
    ``asyncio.run()``. ``debug`` sets the loop's debug mode (None: the default, on with
    ``PYTHONASYNCIODEBUG=1`` or ``-X dev``); ``clock`` replaces real time (e.g.
    ``treadle.testing.MockClock()``); ``poller`` picks the OS API ("epoll", "kqueue", "poll",
    "select"; see ``treadle.available_pollers()``).

    Raises RuntimeError when called from a running event loop and ValueError when ``main`` is
    neither a coroutine nor callable (asyncio.run()'s errors), TypeError for a coroutine given
    arguments, a ``main`` that is not async, or a ``clock`` without the Clock methods. Ctrl-C
    cancels the program through a root cancel scope (shields hold), then raises
    KeyboardInterrupt; a second Ctrl-C raises it at once.
    """
    try:
        _check_arguments(main, args)
        runner = asyncio.Runner(debug=debug, loop_factory=_loop_factory(clock, poller))
        runner.get_loop()  # create it now, so a bad clock or poller fails here
    except BaseException:
        if isinstance(main, Coroutine):
            main.close()  # it will never run; closing it avoids "was never awaited"
        raise
    with runner:
        coro = main if isinstance(main, Coroutine) else coroutine_or_error("run", main, args, {})
        interrupt = _CtrlC(runner)
        with interrupt.installed():
            result = runner.run(_under_root_scope(interrupt, coro))
        if interrupt.root.cancelled_caught:
            raise interrupt.keyboard_interrupt()
        return result  # type: ignore[return-value]  # None only when the root scope caught


def _check_arguments(main: object, args: tuple[Any, ...]) -> None:
    # asyncio.run()'s checks and wording first, so a drop-in replacement fails the same way.
    if _loop_is_running():
        raise RuntimeError("asyncio.run() cannot be called from a running event loop")
    if isinstance(main, Coroutine):
        if args:
            raise TypeError(
                "run() takes either a coroutine or an async function and its arguments: "
                "run(main, arg) or run(main(arg)), not run(main(), arg)"
            )
    elif not callable(main):
        raise ValueError(f"a coroutine was expected, got {main!r}")


@hidden_from_task_tree
async def _under_root_scope(interrupt: _CtrlC, coro: Coroutine[Any, Any, _T]) -> _T | None:
    with interrupt.root:
        try:
            return await coro
        except asyncio.CancelledError as exc:
            interrupt.unwound = exc  # if the root scope catches it, its traceback is the story
            raise
    return None  # only Ctrl-C cancels the root scope: run() raises KeyboardInterrupt


class _CtrlC:
    """SIGINT as cancellation of a root scope (first Ctrl-C) or KeyboardInterrupt (second).

    Runner installs its own handler only when SIGINT still has Python's default one, so
    installing ours first replaces it; we then restore whatever was there.
    """

    def __init__(self, runner: asyncio.Runner) -> None:
        self._runner = runner
        self.root = CancelScope()
        self.count = 0
        self.unwound: asyncio.CancelledError | None = None

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        if (
            threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
        ):
            yield  # someone else handles Ctrl-C (or cannot, off the main thread): leave it be
            return
        previous = signal.signal(signal.SIGINT, self._on_sigint)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def _on_sigint(self, signum: int, frame: object) -> None:
        self.count += 1
        loop = self._runner.get_loop()
        if self.count == 1 and not loop.is_closed():
            # Runs in the main thread between two bytecodes, possibly inside the loop itself:
            # only the thread-safe entry point may touch the loop from here.
            loop.call_soon_threadsafe(self.root.cancel)
            return
        raise KeyboardInterrupt

    def keyboard_interrupt(self) -> KeyboardInterrupt:
        """The KeyboardInterrupt to raise, with the traceback of the program's unwinding.

        When cleanup was itself cancelled (level-triggered: a ``finally`` that awaits, unshielded),
        the CancelledError that reached us was raised there, and the first one, where the
        program was waiting, is its context: we keep that chain, so both places are shown.
        """
        unwound, self.unwound = self.unwound, None  # drop the frames once used
        error = KeyboardInterrupt().with_traceback(_user_part(unwound))
        if unwound is not None:
            error.__context__ = unwound.__context__
        return error


def _user_part(unwound: BaseException | None) -> TracebackType | None:
    """The traceback below ``_under_root_scope``: from the user's main coroutine down."""
    tb = unwound.__traceback__ if unwound is not None else None
    if tb is not None and tb.tb_frame.f_code is _under_root_scope.__code__:
        tb = tb.tb_next
    return tb


def _loop_is_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _loop_factory(clock: Clock | None, poller: str | None) -> Callable[[], EventLoop]:
    """The factory run() hands to asyncio.Runner, with run()'s loop options bound in."""
    if clock is None and poller is None:
        return new_event_loop
    return functools.partial(new_event_loop, clock=clock, poller=poller)
