"""An asyncio event loop policy whose loops are treadle loops.

A policy answers three questions for asyncio's module-level functions: which loop is current in
this thread (``get_event_loop``), how to change that (``set_event_loop``), and how to make a new
loop (``new_event_loop``). We keep the answers exactly as asyncio's default policy gives them on
the running Python, so installing this policy changes which loop class you get and nothing else:

- Each thread has its own current loop, kept in a ``threading.local``.
- In the main thread, ``get_event_loop()`` creates and sets a loop if none was ever set there.
  3.12 and 3.13 also warn ``DeprecationWarning('There is no current event loop')`` when they do;
  3.11 creates the loop silently.
- Anywhere else, or once ``set_event_loop`` was called (even with None), a missing loop is
  ``RuntimeError('There is no current event loop in thread %r.')``.

We write this ourselves instead of subclassing asyncio's ``BaseDefaultEventLoopPolicy``: that class
is asyncio's private machinery (its ``_local`` and ``_loop_factory`` are undocumented). Policies are
on their way out (deprecated in 3.14); ``treadle.run`` and ``loop_factory`` are the way forward, so
this module stays thin.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import warnings
import weakref
from types import FrameType
from typing import Any

from treadle.core import EventLoop, new_event_loop

__all__ = ["EventLoopPolicy"]

# 3.12 started warning when get_event_loop() creates a loop implicitly (gh-93453). 3.11.1 briefly
# did too, and 3.11.2 took it back (gh-100160); we follow 3.11.2 and later.
_WARN_ON_IMPLICIT_LOOP = sys.version_info >= (3, 12)


class _ThreadState(threading.local):
    """One thread's view of the policy."""

    # The thread's current loop; None until set or created.
    loop: asyncio.AbstractEventLoop | None = None
    # True once set_event_loop() was called in this thread: from then on a missing loop is an
    # error even in the main thread, as in asyncio.
    set_called: bool = False


# 3.14 deprecates the policy system and warns when asyncio.AbstractEventLoopPolicy is looked up;
# importing treadle must stay silent there, since the warning is about using policies, which
# install() already warns about.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    _PolicyBase = asyncio.AbstractEventLoopPolicy


class EventLoopPolicy(_PolicyBase):
    """Event loop policy whose ``new_event_loop()`` returns a :class:`treadle.EventLoop`.

    Install it with ``asyncio.set_event_loop_policy(treadle.EventLoopPolicy())`` (or
    ``treadle.install()``); ``asyncio.new_event_loop()``, ``asyncio.run()`` and
    ``asyncio.get_event_loop()`` then use treadle. Per-thread behaviour matches asyncio's
    default policy on the running Python version.
    """

    def __init__(self) -> None:
        self._threads = _ThreadState()
        self._watcher: Any = None  # an asyncio child watcher, made or set on request
        _live_policies.add(self)

    def get_event_loop(self) -> asyncio.AbstractEventLoop:
        """The current thread's loop, as ``asyncio.DefaultEventLoopPolicy.get_event_loop``.

        Creates and sets a loop in the main thread when none was ever set (with a
        ``DeprecationWarning`` on 3.12+). Raises ``RuntimeError`` when there is no loop otherwise.
        """
        state = self._threads
        if (
            state.loop is None
            and not state.set_called
            and threading.current_thread() is threading.main_thread()
        ):
            if _WARN_ON_IMPLICIT_LOOP:
                warnings.warn(
                    "There is no current event loop",
                    DeprecationWarning,
                    stacklevel=_caller_stacklevel(),
                )
            self.set_event_loop(self.new_event_loop())
        if state.loop is None:
            raise RuntimeError(
                f"There is no current event loop in thread {threading.current_thread().name!r}."
            )
        return state.loop

    def set_event_loop(self, loop: asyncio.AbstractEventLoop | None) -> None:
        """Make ``loop`` the current thread's loop (None clears it).

        Raises ``TypeError`` for anything that is not an ``AbstractEventLoop``, as asyncio does.
        """
        self._threads.set_called = True
        if loop is not None and not isinstance(loop, asyncio.AbstractEventLoop):
            raise TypeError(
                "loop must be an instance of AbstractEventLoop or None, "
                f"not '{type(loop).__name__}'"
            )
        self._threads.loop = loop
        # asyncio's Unix policy attaches its watcher to the main thread's loop.
        if self._watcher is not None and threading.current_thread() is threading.main_thread():
            self._watcher.attach_loop(loop)

    def new_event_loop(self) -> EventLoop:
        """A new treadle loop; it is not made current (call ``set_event_loop`` for that)."""
        return new_event_loop()

    # -- child watchers ---------------------------------------------------------------------------
    # treadle's loops watch their own children (core/subprocess), so a watcher set here is
    # never used by them. The methods still behave as asyncio's default policy's do, so code
    # written for asyncio keeps working, and asyncio's own loops (which ask the policy for a
    # watcher when they spawn) still find one. asyncio removes these methods in 3.14.

    if sys.version_info < (3, 14):

        def get_child_watcher(self) -> Any:
            """The watcher set with ``set_child_watcher``, else asyncio's default one.

            As asyncio's policy: the default is made on first use (``PidfdChildWatcher``
            where pidfds work on 3.12+, else ``ThreadedChildWatcher``); 3.12 and 3.13 warn
            ``DeprecationWarning``. treadle's loops do not use it.
            """
            with _watcher_lock:
                if self._watcher is None:
                    self._watcher = _default_child_watcher()
            _warn_child_watcher_deprecated("get_child_watcher")
            return self._watcher

        def set_child_watcher(self, watcher: Any) -> None:
            """Replace the watcher (closing the previous one), as asyncio's policy does.

            Accepted and ignored by treadle's loops; 3.12 and 3.13 warn ``DeprecationWarning``.
            """
            # asyncio checks this with an assert, hence AssertionError and not TypeError.
            assert watcher is None or isinstance(watcher, asyncio.AbstractChildWatcher)
            if self._watcher is not None:
                self._watcher.close()
            self._watcher = watcher
            _warn_child_watcher_deprecated("set_child_watcher")


_watcher_lock = threading.Lock()


def _default_child_watcher() -> Any:
    """asyncio's default watcher for this Python version (its _init_watcher's choice)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        if sys.version_info >= (3, 12) and _pidfd_works():
            return asyncio.PidfdChildWatcher()
        return asyncio.ThreadedChildWatcher()


def _pidfd_works() -> bool:
    if not hasattr(os, "pidfd_open"):
        return False
    try:
        os.close(os.pidfd_open(os.getpid()))
    except OSError:
        return False  # refused by a seccomp policy, for instance
    return True


def _warn_child_watcher_deprecated(name: str) -> None:
    # asyncio 3.12+ wording (warnings._deprecated with remove=(3, 14)); 3.11 is silent.
    if sys.version_info >= (3, 12):
        warnings.warn(
            f"{name!r} is deprecated as of Python 3.12 and will be removed in Python 3.14.",
            DeprecationWarning,
            stacklevel=3,
        )


def _caller_stacklevel() -> int:
    """The stacklevel that points a warning at the first frame outside asyncio and treadle.

    Users reach get_event_loop() through asyncio's functions (and maybe ours); the warning is
    about their line, the way asyncio attributes its own warning.
    """
    # Level 1 is the warn() caller (get_event_loop), level 2 the frame that called it.
    level = 2
    frame: FrameType | None = sys._getframe(2)
    while frame is not None and _is_library_module(frame.f_globals.get("__name__", "")):
        frame = frame.f_back
        level += 1
    return level


def _is_library_module(name: str) -> bool:
    return name.split(".", 1)[0] in ("asyncio", "treadle")


# In a child made by os.fork(), loops inherited from the parent share its poller and self-pipe:
# using them corrupts the parent's loop. 3.12+ asyncio forgets the default policy's loops in the
# child (gh-66285); we forget ours on every version, since an inherited loop is never usable.
_live_policies: weakref.WeakSet[EventLoopPolicy] = weakref.WeakSet()


def _forget_loops_in_child() -> None:
    for policy in _live_policies:
        policy._threads = _ThreadState()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_loops_in_child)
