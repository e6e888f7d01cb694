"""Cancel scopes and task groups: thin wrappers around treadle's native scopes and nurseries.

This is how AnyIO's trio backend wraps trio, and for the same reason: the native objects already
have AnyIO's semantics (level-triggered cancellation, shields, deadlines, strict exception
groups), so the wrappers only translate names. Nothing here re-cancels tasks on every loop
iteration the way AnyIO's asyncio backend must; a cancelled task pays only while it is being
cancelled (structured/_cancel.py explains the delivery).

Differences kept on purpose: the group's error is treadle's ``BaseExceptionGroup("errors in a
treadle nursery", ...)``; the CancelledError's message is treadle's wording (it names the
cancelling task and the reason, as AnyIO's asyncio backend does, in other words).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Coroutine
from contextvars import Context
from types import TracebackType
from typing import Any, Literal, Self

import anyio
import anyio.abc
from anyio import TaskHandle

from treadle.structured import Nursery, open_nursery

from ._native import NativeScope, ScopeState, TaskState, report_child_exit
from ._sync import Event, cancel_shielded_checkpoint

_NURSERY_GROUP_MESSAGE = "errors in a treadle nursery"
_new_object = object.__new__
_NEW = ScopeState.NEW


# mypy sees two unrelated __slots__ bases and two __enter__ signatures; at run time the layouts
# agree (AnyIO's base adds only __weakref__, which treadle's scope has too) and treadle's
# __enter__ returns the scope itself, which is what AnyIO's promises.
class CancelScope(NativeScope, anyio.CancelScope):  # type: ignore[misc]
    """``anyio.CancelScope`` on the treadle backend: a treadle CancelScope, not a wrapper of one.

    Subclassing both (treadle's slots and AnyIO's weakref-only base share a layout) saves the
    delegation layer: entering and leaving 100k scopes costs what treadle's own scopes cost.
    """

    __slots__ = ()

    def __new__(cls, *, deadline: float = math.inf, shield: bool = False) -> Self:
        # Initialized here, once: ``anyio.CancelScope(...)`` asks the backend for a scope and
        # then Python calls ``__init__`` on what it got, which must not initialize it again.
        # (anyio.CancelScope.__new__ would ask the backend for yet another scope: stop here.)
        return new_cancel_scope(deadline=deadline, shield=shield)  # type: ignore[return-value]

    # object's own __init__, in C: it accepts (and ignores) the keyword arguments because this
    # class defines __new__, and it saves a Python call per ``anyio.CancelScope()``.
    __init__ = object.__init__

    def cancel(self, reason: str | None = None) -> None:
        NativeScope.cancel(self, reason)


def new_cancel_scope(*, deadline: float = math.inf, shield: bool = False) -> CancelScope:
    """``CancelScope(deadline=..., shield=...)`` minus two call layers: AnyIO asks for each scope.

    treadle's ``CancelScope.__init__``, inlined: AnyIO's 100k-scope churn on the treadle backend
    took 4 ms less without the call (95.5 -> 91.5; 3.13).
    test_new_cancel_scope_matches_native_init keeps the two field lists the same.
    """
    if deadline != deadline:  # NaN
        raise ValueError("deadline must not be NaN")
    scope: CancelScope = _new_object(CancelScope)
    scope._deadline = deadline
    scope._shield = shield
    scope._cancel_called = False
    scope._cancelled_caught = False
    scope._state = _NEW
    scope._parent = None
    scope._host = None
    scope._loop = None
    scope._children = None
    scope._tasks = None
    scope._timer = None
    scope._cancelling = 0
    scope._reason = None
    return scope


class ScopeView(anyio.CancelScope):
    """A nursery's native scope seen as an ``anyio.CancelScope`` (``TaskGroup.cancel_scope``)."""

    __slots__ = ("_native",)

    def __new__(cls, native: NativeScope) -> Self:
        return object.__new__(cls)

    def __init__(self, native: NativeScope) -> None:
        self._native = native

    def __enter__(self) -> Self:
        self._native.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> bool:
        return self._native.__exit__(exc_type, exc_val, exc_tb)

    def cancel(self, reason: str | None = None) -> None:
        self._native.cancel(reason)

    @property
    def deadline(self) -> float:
        return self._native.deadline

    @deadline.setter
    def deadline(self, value: float) -> None:
        self._native.deadline = value

    @property
    def cancel_called(self) -> bool:
        return self._native.cancel_called

    @property
    def cancelled_caught(self) -> bool:
        return self._native.cancelled_caught

    @property
    def shield(self) -> bool:
        return self._native.shield

    @shield.setter
    def shield(self, value: bool) -> None:
        self._native.shield = value


class _EarlyTaskStatus(anyio.abc.TaskStatus[Any]):
    """What ``TaskGroup.start()`` hands the function: forwards ``started()`` to the nursery's.

    A sync function returning a coroutine may call ``started()`` before any task exists; the
    value is kept and passed on once the child task runs.
    """

    __slots__ = ("_called", "_early", "_native")

    _EMPTY: Any = object()

    def __init__(self) -> None:
        self._native: Any = None  # the nursery's TaskStatus, once the child task runs
        self._early: Any = self._EMPTY
        self._called = False

    def started(self, value: Any = None) -> None:
        if self._called:
            raise RuntimeError("called 'started' twice on the same task status")
        self._called = True
        if self._native is None:
            self._early = value
        else:
            self._native.started(value)


class TaskGroup(anyio.abc.TaskGroup):
    """``anyio.create_task_group()`` on the treadle backend: a treadle nursery."""

    def __init__(self) -> None:
        self._manager: open_nursery | None = open_nursery()
        self._nursery: Nursery | None = None
        self._entered = False
        self._active = False
        self.cancel_scope = None  # type: ignore[assignment]  # set on entry, as trio's does

    async def __aenter__(self) -> Self:
        if self._entered:
            raise RuntimeError("TaskGroup cannot be entered more than once")
        self._entered = True
        assert self._manager is not None
        self._nursery = await self._manager.__aenter__()
        self.cancel_scope = ScopeView(self._nursery.cancel_scope)
        self._active = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> bool:
        manager = self._manager
        nursery = self._nursery
        assert manager is not None
        assert nursery is not None
        try:
            if not nursery.cancel_scope._tasks:  # (child_tasks would build a frozenset)
                # AnyIO's rule: leaving a task group is a yield point even with no children.
                await cancel_shielded_checkpoint()
            return await manager.__aexit__(exc_type, exc_val, exc_tb)
        except BaseExceptionGroup as group:
            if group.message == _NURSERY_GROUP_MESSAGE:
                group.__suppress_context__ = True  # the body's error is inside the group
            _clear_nursery_frames(group)
            raise
        finally:
            self._active = False
            # Nothing of this group may keep its errors alive once it has raised them.
            self._manager = self._nursery = None
            del exc_val, exc_tb, manager, nursery

    def _check_active(self, coro: Coroutine[Any, Any, Any] | None = None) -> Nursery:
        if not self._active or self._nursery is None:
            if coro is not None:
                coro.close()
            raise RuntimeError("This task group is not active; no new tasks can be started.")
        return self._nursery

    def create_task(
        self,
        coro: Coroutine[Any, Any, Any],
        *,
        name: object = None,
        context: Context | None = None,
    ) -> TaskHandle[Any]:
        if not isinstance(coro, Coroutine):
            raise TypeError(f"expected a coroutine, got {coro.__class__.__qualname__}")
        nursery = self._check_active(coro)
        # The handle's own scope made here directly: anyio.CancelScope() would ask the backend.
        scope = CancelScope()
        handle: TaskHandle[Any] = TaskHandle(coro, _coro_name(coro, name), scope)
        if context is None:
            _spawn_handle(nursery, handle, scope)
        else:
            # asyncio's Task copies the current context when created: create it inside ``context``.
            context.run(_spawn_handle, nursery, handle, scope)
        return handle

    async def start(
        self,
        func: Callable[..., Coroutine[Any, Any, Any]],
        *args: object,
        name: object = None,
        return_handle: Literal[False, True] = False,
    ) -> Any:
        nursery = self._check_active()
        final_name = _callable_name(func, name)
        handles: list[TaskHandle[Any]] = []

        async def run_with_status(*, task_status: Any) -> None:
            status = _EarlyTaskStatus()
            coro: object = func(*args, task_status=status)  # typed, but callers may lie
            if not isinstance(coro, Coroutine):
                prefix = f"{func.__module__}." if hasattr(func, "__module__") else ""
                raise TypeError(
                    f"Expected {prefix}{func.__qualname__}() to return a coroutine, but "
                    f"the return value ({coro!r}) is not a coroutine object"
                )
            if status._early is not status._EMPTY:
                task_status.started(status._early)
            else:
                status._native = task_status
            handle: TaskHandle[Any] = TaskHandle(coro, final_name, CancelScope())
            handles.append(handle)
            await handle._run_coro()

        try:
            value = await nursery.start(run_with_status, name=final_name)
        except BaseExceptionGroup as group:
            # Before started(), the child's error is start()'s own (AnyIO's rule); older
            # treadle nurseries wrap it in their group.
            if group.message == _NURSERY_GROUP_MESSAGE and len(group.exceptions) == 1:
                raise group.exceptions[0] from None
            raise
        except RuntimeError as exc:
            if str(exc) == "child exited without calling task_status.started()":
                raise RuntimeError("Child exited without calling task_status.started()") from None
            raise
        if return_handle:
            handle = handles[0]
            handle._start_value = value
            return handle
        return value


def _spawn_handle(nursery: Nursery, handle: TaskHandle[Any], scope: CancelScope) -> None:
    if _RUN_HANDLE_FITS:
        nursery._spawn_with_runner(_run_handle, handle, handle.name, scope)
    else:
        # TaskHandle._run_coro runs the coroutine inside the handle's own cancel scope and
        # records its outcome; AnyIO's own backends spawn exactly this method.
        nursery.start_soon(handle._run_coro, name=handle.name)


# _run_handle does what TaskHandle._run_coro does, with TaskHandle's private fields; it is used
# only while those fields are the ones it was written against (AnyIO 4.14-4.16).
_RUN_HANDLE_FITS = {
    "_cancel_scope",
    "_coro",
    "_exception",
    "_finished_event",
    "_return_value",
} <= set(getattr(TaskHandle, "__slots__", ()))


async def _run_handle(handle: TaskHandle[Any], state: TaskState) -> None:
    """AnyIO's ``TaskHandle._run_coro`` and the nursery child's exit report, in one frame.

    The handle's scope was entered for the task when it was spawned, and
    ``report_child_exit`` leaves it: the ``with`` block of ``_run_coro`` without its cost.
    Spawning ``handle._run_coro`` under a runner frame of its own costs one more frame for every
    cancellation to unwind: 1000 cancelled anyio.sleep_forever() tasks took 0.45 ms more that way
    (of ~3; 3.13). The ``del``s keep every ended child free of reference cycles, so it dies by
    reference counting (test_ended_children_are_freed_by_reference_counting).
    """
    root: CancelScope = handle._cancel_scope  # type: ignore[assignment]  # create_task's
    # The backend's own Event (AnyIO makes it through create_event): set without a call when
    # nobody waits on the handle, as usual.
    finished: Event = handle._finished_event  # type: ignore[assignment]
    try:
        handle._return_value = await handle._coro
    except BaseException as exc:
        handle._exception = exc
        del handle  # the handle keeps the error, whose traceback keeps this frame
        if finished._waiters:
            finished.set()
        else:
            finished._flag = True
        if report_child_exit(state, exc, root):
            return  # the handle's own scope caught it (TaskHandle.cancel())
        del state, root  # the task keeps its error, whose traceback keeps this frame
        raise
    if finished._waiters:
        finished.set()
    else:
        finished._flag = True
    report_child_exit(state, None, root)


_NURSERY_EXIT_CODE = open_nursery.__aexit__.__code__


def _clear_nursery_frames(error: BaseException) -> None:
    """Drop the locals of the finished nursery ``__aexit__`` frame in ``error``'s traceback.

    That frame holds the group and the errors it raised, which would otherwise keep them (and
    everything their tracebacks reach) alive through a reference cycle until the cyclic GC runs.
    """
    tb = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code is _NURSERY_EXIT_CODE:
            try:
                tb.tb_frame.clear()
            except RuntimeError:
                pass  # still executing (cannot happen once it raised); leave it
        tb = tb.tb_next


def _coro_name(coro: Coroutine[Any, Any, Any], override: object) -> str:
    if override is not None:
        return str(override)
    frame = getattr(coro, "cr_frame", None)
    module = frame.f_globals.get("__name__") if frame is not None else None
    qualname = getattr(coro, "__qualname__", None)
    return ".".join(part for part in (module, qualname) if part)


def _callable_name(func: Callable[..., Any], override: object) -> str:
    if override is not None:
        return str(override)
    module = getattr(func, "__module__", None)
    qualname = getattr(func, "__qualname__", None)
    return ".".join(part for part in (module, qualname) if part)
