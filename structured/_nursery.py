"""Nurseries: tasks with a parent, whose failures are never lost.

A nursery is a cancel scope (``nursery.cancel_scope``) plus the set of child tasks rooted in it.
Children are ordinary asyncio Tasks created by ``loop.create_task``; a done callback reports each
one's end to the nursery (or, for a child spawned with a runner, the child's own last step does:
``report_child_exit``). The first failure cancels the scope (so siblings and the body unwind),
``__aexit__`` waits for every child, even when the body raised, and then raises everything that
went wrong as one (Base)ExceptionGroup, as Trio does with strict exception groups.

Cancellations are not errors: when all that happened is cancellation, ``__aexit__`` raises a plain
CancelledError, which the cancel scope that caused it catches (asyncio's TaskGroup behaves the
same way). A child cancelled from outside treadle (``child.cancel()``) just ends, as in a TaskGroup.

While ``__aexit__`` waits, the body task is marked *immune* to level-triggered re-delivery: the wait
is not a place where repeated CancelledErrors could do any good, only spin. The children get the
cancellation through the tree instead.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Coroutine
from types import TracebackType
from typing import Any, TypeVar

from ._cancel import CancelScope, ScopeState, cancel_message, deliver, effective_cancel
from ._spawn_checks import coroutine_or_error
from ._task_status import TASK_STATUS_IGNORED, TaskStatus
from ._tasks import TaskState, states

_T = TypeVar("_T")

__all__ = ["TASK_STATUS_IGNORED", "Nursery", "TaskStatus", "open_nursery"]

_GROUP_MESSAGE = "errors in a treadle nursery"
_CancelledError = asyncio.CancelledError
_EXITED = ScopeState.EXITED

_A = TypeVar("_A")

# ``runner(arg, state)``: the coroutine a child task runs; it does the child's work and, as its
# last act, calls ``report_child_exit(state, error)`` (``error`` None after a normal end), so the
# nursery needs no done callback. The AnyIO backend's task groups spawn through one.
ChildRunner = Callable[[_A, TaskState], Coroutine[Any, Any, Any]]


class Nursery:
    """Where child tasks live; get one from ``async with open_nursery() as nursery``."""

    __slots__ = (
        "_closed",
        "_errors",
        "_host",
        "_loop",
        "_pending_starts",
        "_scope",
        "_strict",
        "_waiter",
    )

    def __init__(
        self, loop: asyncio.AbstractEventLoop, host: TaskState, scope: CancelScope
    ) -> None:
        self._loop = loop
        self._host = host
        self._scope = scope
        self._errors: list[BaseException] = []
        self._closed = False
        self._waiter: asyncio.Future[None] | None = None
        # Strict: errors always come out as an ExceptionGroup, as Trio does by default. Only the
        # staging nursery of start() is lenient, so that start() raises its child's error itself.
        self._strict = True
        # start() calls waiting for their child's started(): the nursery stays open for them
        # (Trio's rule), so a child that calls started() after the nursery was cancelled moves
        # in and is cancelled there, instead of finding the nursery closed.
        self._pending_starts = 0

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<Nursery at {id(self):#x}, {state}, {len(self._scope._tasks or ())} children>"

    @property
    def cancel_scope(self) -> CancelScope:
        """The scope around the body and every child; ``cancel()`` it to stop them all."""
        return self._scope

    @property
    def child_tasks(self) -> frozenset[asyncio.Task[Any]]:
        return frozenset(state.task for state in self._scope._tasks or ())

    @property
    def parent_task(self) -> asyncio.Task[Any]:
        return self._host.task

    def start_soon(
        self, fn: Callable[..., Awaitable[Any]], *args: Any, name: str | None = None
    ) -> asyncio.Task[Any]:
        """Start ``fn(*args)`` as a child task; returns the asyncio Task.

        Raises RuntimeError once the nursery is closed (its ``async with`` block has finished
        and all its children are done), and TypeError when ``fn`` is not an async function (a
        coroutine object, ``start_soon(work())``, is closed and explained; trio.Nursery.start_soon
        behaves the same).
        """
        if self._closed:
            raise _closed_error()
        coro = coroutine_or_error("nursery.start_soon", fn, args, {})
        return self._spawn(coro, name, None)

    async def start(
        self, fn: Callable[..., Awaitable[Any]], *args: Any, name: str | None = None
    ) -> Any:
        """Start ``fn(*args, task_status=...)`` and return the value it passes to ``started()``.

        Until ``task_status.started()`` the child runs in the caller's cancel scope, and an error
        it raises before then comes out of this call as itself (not in an ExceptionGroup), as
        trio.Nursery.start and AnyIO's TaskGroup.start do; afterwards it lives in this nursery.
        A function without a ``task_status`` parameter fails here with Python's own TypeError.
        RuntimeError when the child returns without calling ``started()``. This nursery stays
        open while the call is pending (Trio's rule): if it is cancelled meanwhile, the child
        still moves in on ``started()`` and is cancelled at its next checkpoint.
        """
        if self._closed:
            raise _closed_error()
        self._pending_starts += 1
        try:
            async with open_nursery() as staging:
                staging._strict = False
                status: _PendingStart[Any] = _PendingStart(staging, self)
                coro = coroutine_or_error("nursery.start", fn, args, {"task_status": status})
                staging._spawn(coro, name, status)
        finally:
            self._pending_starts -= 1
            self._wake_if_empty()
        if not status._called:
            raise RuntimeError("child exited without calling task_status.started()")
        return status._value

    def _spawn(
        self,
        coro: Coroutine[Any, Any, Any],
        name: str | None,
        status: _PendingStart[Any] | None,
    ) -> asyncio.Task[Any]:
        task = self._loop.create_task(coro, name=name)
        state = TaskState(task, self._scope)
        # An empty context, as in _tasks.state_for: the task's own would keep every context
        # variable value it holds now alive until the child ends.
        task.add_done_callback(_child_done, context=contextvars.Context())
        if status is not None:
            status._state = state
        self._adopt(state)
        return task

    def _spawn_with_runner(
        self,
        runner: ChildRunner[_A],
        arg: _A,
        name: str | None,
        root: CancelScope | None = None,
    ) -> asyncio.Task[Any]:
        """``start_soon`` for a child whose runner reports its own end (``report_child_exit``).

        The child task runs ``runner(arg, state)``. With no done callback to wait for, a child
        leaves the nursery in its last step rather than one loop callback later; so the host
        may resume before done callbacks added to the last child's Task have run. ``root``, a
        new scope, is entered for the child here, as if its coroutine began with ``with root:``
        (AnyIO's per-task scope), and left by ``report_child_exit``.
        """
        if self._closed:
            raise _closed_error()
        state = TaskState(None, self._scope)  # type: ignore[arg-type]  # the task comes next
        state.task = task = self._loop.create_task(runner(arg, state), name=name)
        if root is not None:
            root._enter_for(state)
        self._adopt(state)
        return task

    def _adopt(self, state: TaskState) -> None:
        scope = self._scope
        state.nursery = self
        states[state.task] = state
        assert scope._tasks is not None
        scope._tasks.add(state)
        if effective_cancel(state.scope) is not None:
            deliver(state)  # deferred until it reaches its first checkpoint

    def _child_finished(self, state: TaskState) -> None:
        tasks = self._scope._tasks
        assert tasks is not None
        tasks.discard(state)
        task = state.task
        if not task.cancelled():
            error = task.exception()
            if error is not None:
                self._errors.append(error)
                self._scope._cancel_with(
                    f"cancelled: child task {task.get_name()!r} raised {type(error).__name__}"
                )
        if not tasks:
            self._wake_if_empty()

    def _wake_if_empty(self) -> None:
        waiter = self._waiter
        if (
            waiter is not None
            and not self._scope._tasks
            and not self._pending_starts
            and not waiter.done()
        ):
            waiter.set_result(None)

    async def _wait_for_children(self) -> bool:
        """Wait until no child or pending start() is left; True if cancelled from outside."""
        tasks = self._scope._tasks
        assert tasks is not None
        cancelled_from_outside = False
        self._host.immune = True
        try:
            while tasks or self._pending_starts:
                self._waiter = self._loop.create_future()
                try:
                    await self._waiter
                except asyncio.CancelledError:
                    # task.cancel() by someone else (treadle's own deliveries skip an immune
                    # task): like a TaskGroup, cancel the children, keep waiting, re-raise later.
                    cancelled_from_outside = True
                    self._scope._cancel_with("cancelled: the nursery's host task was cancelled")
        finally:
            self._host.immune = False
            self._waiter = None
        return cancelled_from_outside


def report_child_exit(
    state: TaskState, error: BaseException | None, root: CancelScope | None = None
) -> bool:
    """A :data:`ChildRunner`'s last act: its child's coroutine ended with ``error`` (or None).

    Called from inside the child task just before its coroutine returns or raises. ``root`` is
    the scope given to ``_spawn_with_runner``: it is exited first, as a ``with`` block would,
    and True means it caught ``error`` (the runner then returns instead of raising). A normal
    end or a CancelledError is not an error to the nursery: the child leaves it right here,
    which saves the done callback's loop round trip (1000 cancelled AnyIO tasks: see
    docs/performance.md). A real error goes the done callback's way, as for any child: the
    callback retrieves it from the finished task (so asyncio never logs it as unretrieved) and
    cancels the nursery.
    """
    caught = False
    if root is not None:
        if (
            root._cancel_called
            or root._shield
            or root._timer is not None
            or state.scope is not root
        ):
            caught, error = _exit_root(state, root, error)
        else:
            # CancelScope.__exit__'s path for a scope nothing happened to, inlined: the root of
            # every AnyIO task, left as the task ends.
            state.scope = root._parent  # (the root is not in its parent's _children)
            root._state = _EXITED
            root._host = None
    task = state.task
    if error is not None and not isinstance(error, _CancelledError):
        task.add_done_callback(_child_done, context=contextvars.Context())
        return caught
    states.pop(task, None)
    # The state may outlive its task in a pending follow-up batch (structured/_cancel.py);
    # it must not keep the task, and all its task ended with, alive until then. Freed as it
    # ends, 1000 cancelled AnyIO tasks cost one young-generation collection instead of two:
    # with the root scopes kept out of _children, ~950 instructions fewer per task (callgrind).
    state.task = None  # type: ignore[assignment]  # dead state: only follow-ups read it
    nursery = state.nursery  # read now: start() may have moved the child to another nursery
    if nursery is not None:
        tasks = nursery._scope._tasks
        assert tasks is not None
        tasks.discard(state)
        if not tasks:
            nursery._wake_if_empty()
    return caught


def _exit_root(
    state: TaskState, root: CancelScope, error: BaseException | None
) -> tuple[bool, BaseException | None]:
    """Leave a child's root scope as ``with`` would: (caught ``error``?, what is left of it)."""
    try:
        caught = root.__exit__(type(error) if error else None, error, None)
    except BaseException:
        # It ends the task: the done callback reports it, as for any failed child.
        state.task.add_done_callback(_child_done, context=contextvars.Context())
        raise
    return caught, None if caught else error


def _child_done(task: asyncio.Task[Any]) -> None:
    state = states.pop(task, None)
    if state is not None and state.nursery is not None:
        state.nursery._child_finished(state)


def _closed_error() -> RuntimeError:
    return RuntimeError(
        "this nursery is closed to new arrivals: its 'async with' block and all its children "
        "have finished; start tasks from inside the block or use a nursery that is still open"
    )


class _PendingStart(TaskStatus[_T]):
    """The ``task_status`` that ``nursery.start()`` passes: ``started()`` moves the child."""

    __slots__ = ("_called", "_staging", "_state", "_target", "_value")

    def __init__(self, staging: Nursery, target: Nursery) -> None:
        self._staging = staging
        self._target = target
        self._state: TaskState | None = None
        self._called = False
        self._value: Any = None

    def started(self, value: Any = None) -> None:
        """Tell ``start()`` the child is ready: it returns ``value``, the child moves nurseries."""
        if self._called:
            raise RuntimeError("task_status.started() was called twice")
        state = self._state
        assert state is not None
        target = self._target
        if target._closed:
            raise _closed_error()
        self._called = True
        self._value = value
        _move_child(state, self._staging, target)
        staging_tasks = self._staging._scope._tasks
        waiter = self._staging._waiter
        if not staging_tasks and waiter is not None and not waiter.done():
            waiter.set_result(None)
        if effective_cancel(state.scope) is not None:
            deliver(state)


def _move_child(state: TaskState, old: Nursery, new: Nursery) -> None:
    """Re-root a child, and whatever scopes it has open, from ``old``'s scope to ``new``'s."""
    old_scope, new_scope = old._scope, new._scope
    assert old_scope._tasks is not None
    assert new_scope._tasks is not None
    old_scope._tasks.discard(state)
    new_scope._tasks.add(state)
    state.nursery = new
    if state.scope is old_scope:
        state.scope = new_scope
        return
    outermost = state.scope
    while outermost is not None and outermost._parent is not old_scope:
        outermost = outermost._parent
    if outermost is None:
        return
    outermost._parent = new_scope
    if old_scope._children is not None:
        old_scope._children.discard(outermost)
    if new_scope._children is None:
        new_scope._children = {outermost}
    else:
        new_scope._children.add(outermost)


class open_nursery:
    """``async with open_nursery() as nursery:`` a scope whose children it waits for."""

    __slots__ = ("_nursery",)

    def __init__(self) -> None:
        self._nursery: Nursery | None = None

    async def __aenter__(self) -> Nursery:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("open_nursery() must be used inside an asyncio task")
        scope = CancelScope()
        scope.__enter__()
        host = scope._host
        assert host is not None  # set by __enter__
        scope._tasks = set()
        self._nursery = nursery = Nursery(task.get_loop(), host, scope)
        return nursery

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        nursery = self._nursery
        assert nursery is not None
        scope = nursery._scope
        body_cancelled = isinstance(exc, asyncio.CancelledError)
        if exc is not None:
            # Any way out of the body other than its end cancels the children (Trio's rule; for a
            # CancelledError from task.cancel(), also asyncio TaskGroup's).
            if not body_cancelled:
                nursery._errors.append(exc)
            scope._cancel_with(f"cancelled: the nursery's body raised {type(exc).__name__}")
        waited = bool(scope._tasks) or nursery._pending_starts > 0
        outside = await nursery._wait_for_children() if waited else False
        nursery._closed = True
        errors = nursery._errors
        raised: BaseException | None = None
        if len(errors) == 1 and not nursery._strict:
            raised = errors[0]
        elif errors:
            raised = BaseExceptionGroup(_GROUP_MESSAGE, errors)
        elif body_cancelled:
            raised = exc
        elif outside or (waited and effective_cancel(scope) is not None):
            # The wait was a checkpoint in a cancelled scope.
            raised = asyncio.CancelledError(cancel_message(scope))
        if scope.__exit__(type(raised) if raised else None, raised, None):
            return True
        if raised is None or raised is exc:
            return False
        raise raised
