"""CancelScope: where cancellation starts, and how it spreads level-triggered over asyncio Tasks.

The model (Trio's): scopes form a tree. A task is *effectively cancelled* when, walking from its
innermost scope outwards, a cancelled scope is met before a shielded one. While that holds, every
checkpoint of the task raises ``asyncio.CancelledError``, not just the first one; the outermost
visible cancelled scope catches the error when it exits, and swallows only what it caused.

How it is delivered on asyncio's C Task, whose step we cannot override:

1. When a scope is cancelled (``cancel()`` or its deadline timer), we walk its subtree, skipping
   shielded or already-cancelled child scopes, and call ``task.cancel()`` on each task found in it.
   A parked task wakes with CancelledError, exactly as asyncio's own cancellation does.
2. Each delivery queues a *follow-up check* (``loop.call_soon``; one callback for all the tasks
   of a scope's cancellation), queued after the tasks' wake-ups, so it runs just after each
   task's next step. If the task is
   still effectively cancelled then (it caught the error and awaited again), we deliver again.
   That is the whole of level triggering: no per-step wrapper, no polling of idle tasks; a task
   pays only while it is being cancelled. docs/structured-design.md has the measurements behind
   this choice over a coroutine wrapper.
3. We never ``cancel()`` the running task (that would set asyncio's ``_must_cancel`` and could
   turn a normal return into a cancellation); we defer to the follow-up check, which runs once the
   task has suspended. A task not started yet is deferred the same way, so a nursery child spawned
   into a cancelled scope runs up to its first checkpoint, as in Trio.

Messages: ``task.cancel(msg)`` carries the message of the cancelled scope that is visible from
the task (``cancel(reason)``'s, or the deadline's), so the CancelledError says why; a subtree's
delivery computes it once.

Counting: each ``task.cancel()`` we make adds one to ``task.cancelling()``; the catching scope
calls ``uncancel()`` that many times, then swallows the CancelledError only if
``task.cancelling()`` is back to where it was when the scope was entered. A cancellation someone
else requested (``task.cancel()``, asyncio.timeout, a TaskGroup) therefore passes through.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import math
from types import TracebackType
from typing import Any

from ._tasks import TaskState, state_for, states

_current_task = asyncio.current_task

# The CancelledError message when a scope's deadline cancelled it.
_DEADLINE_MESSAGE = "cancelled: the cancel scope's deadline passed"


class ScopeState(enum.Enum):
    NEW = "new"
    ACTIVE = "active"
    EXITED = "exited"


# The members as module constants: entering and exiting read them once each per scope.
_NEW, _ACTIVE, _EXITED = ScopeState.NEW, ScopeState.ACTIVE, ScopeState.EXITED


class CancelScope:
    """A region of code that can be cancelled as a unit, by a call or by a deadline.

    ``deadline``: loop time (``loop.time()``) at which the scope cancels itself; ``math.inf``
    for none. ``shield``: when True, cancellation of enclosing scopes does not reach inside.
    Both are mutable while the scope is active. Use with ``with``; a scope may be entered once,
    must be exited by the task that entered it, innermost first (else RuntimeError).
    """

    __slots__ = (
        "__weakref__",
        "_cancel_called",
        "_cancelled_caught",
        "_cancelling",
        "_children",
        "_deadline",
        "_host",
        "_loop",
        "_parent",
        "_reason",
        "_shield",
        "_state",
        "_tasks",
        "_timer",
    )

    def __init__(self, *, deadline: float = math.inf, shield: bool = False) -> None:
        if deadline != deadline:  # NaN; math.isnan() is a call, and this runs per scope
            raise ValueError("deadline must not be NaN")
        self._deadline = deadline
        self._shield = shield
        self._cancel_called = False
        self._cancelled_caught = False
        self._state = _NEW
        self._parent: CancelScope | None = None
        self._host: TaskState | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # Scopes entered directly inside this one (but a child task's root scope, entered for it
        # at spawn, is reached through its TaskState.root in _tasks instead).
        self._children: set[CancelScope] | None = None
        self._tasks: set[TaskState] | None = None  # nursery children rooted here (nurseries only)
        self._timer: asyncio.TimerHandle | None = None
        self._cancelling = 0  # task.cancelling() at __enter__
        # The CancelledError message for tasks this scope cancels; set by cancel() (None before).
        self._reason: str | None = None

    def __repr__(self) -> str:
        parts = [self._state.value]
        if self._cancel_called:
            parts.append("cancelled")
        if self._shield:
            parts.append("shielded")
        if self._deadline != math.inf:
            parts.append(f"deadline={self._deadline:.3f}")
        return f"<CancelScope at {id(self):#x}, {', '.join(parts)}>"

    # -- entering and exiting -------------------------------------------------------------------

    def __enter__(self) -> CancelScope:
        task = _current_task()
        if task is None:
            raise RuntimeError("a CancelScope must be entered from inside an asyncio task")
        if self._state is not _NEW:
            raise RuntimeError(
                "this CancelScope was already entered; each scope is for one 'with' block, "
                "create a new CancelScope instead"
            )
        host = states.get(task) or state_for(task)
        parent = host.scope
        self._parent = parent
        self._host = host
        self._state = _ACTIVE
        self._cancelling = task.cancelling()
        if parent is not None:
            children = parent._children
            if children is None:
                parent._children = {self}
            else:
                children.add(self)
        host.scope = self
        if self._deadline != math.inf:
            self._arm_deadline(task)
        if self._cancel_called:
            deliver(host)  # deferred to after the next suspension: host is running
        return self

    def _enter_for(self, host: TaskState) -> None:
        """``__enter__`` on behalf of a nursery child that has not started: its root scope.

        The child's runner leaves it through ``report_child_exit`` (structured/_nursery.py).
        """
        if self._state is not _NEW:
            raise RuntimeError(
                "this CancelScope was already entered; each scope is for one 'with' block, "
                "create a new CancelScope instead"
            )
        parent = host.scope
        assert parent is not None  # the nursery's scope
        self._parent = parent
        self._host = host
        self._state = _ACTIVE
        self._cancelling = host.task.cancelling()
        # Not added to parent._children: the walk finds it through host.root (one loop over
        # the nursery's children instead of two, and no set insert and removal per child).
        host.root = self
        host.scope = self
        if self._deadline != math.inf:
            self._arm_deadline(host.task)

    def _arm_deadline(self, task: asyncio.Task[Any]) -> None:
        # The loop is looked up only for scopes that need it (entering 100k plain scopes is
        # a benchmark of its own).
        self._loop = loop = task.get_loop()
        if self._deadline <= loop.time():
            self._cancel_called = True
            self._reason = _DEADLINE_MESSAGE
        else:
            self._timer = loop.call_at(self._deadline, self._expire)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        host = self._host
        if host is None:  # set while active only
            raise RuntimeError(f"{self!r} was never entered, or was exited already")
        task = _current_task()
        if task is not host.task:
            raise RuntimeError(
                f"{self!r} was entered in {host.task!r} but exited in {task!r}; a cancel scope "
                "must be exited by the task that entered it (did a 'with' block span tasks, or "
                "an async generator yield inside one?)"
            )
        if host.scope is not self:
            self._exit_out_of_order(host, exc)
        # _detach(), inlined: this runs for every scope exit. Inlining the uncancelled path of
        # enter and exit (with the AnyIO backend's shortcuts) took AnyIO's 100k-scope churn on
        # the treadle backend from 119 ms to 90 ms (3.13, benchmarks/anyio_backends).
        parent = self._parent
        host.scope = parent
        if parent is not None and parent._children is not None:
            parent._children.discard(self)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._state = _EXITED
        # An exited scope may outlive its task (a task group object kept by its creator): it
        # must not keep the task, and the exception the task ended with, alive.
        self._host = None
        if not self._cancel_called:
            if self._shield and effective_cancel(parent) is not None:
                deliver(host)  # leaving a shield into a cancelled scope: next checkpoint raises
            return False
        return self._catch(host, task, exc)

    def _exit_out_of_order(self, host: TaskState, exc: BaseException | None) -> None:
        inner = host.scope
        # Close what is still open inside us, so the task's scope stack is sane afterwards.
        while host.scope is not None and host.scope is not self:
            stray = host.scope
            stray._detach(host)
        raise RuntimeError(
            f"cancel scopes exited out of order: {self!r} was exited while {inner!r}, entered "
            "inside it, was still open; exit scopes innermost first (is a 'with' block closed "
            "from another coroutine or an async generator?)"
        ) from exc

    def _detach(self, host: TaskState) -> None:
        host.scope = self._parent
        if self._parent is not None and self._parent._children is not None:
            self._parent._children.discard(self)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._state = _EXITED
        self._host = None

    def _catch(self, host: TaskState, task: asyncio.Task[Any], exc: BaseException | None) -> bool:
        """Exit of a cancelled scope: catch the cancellation if it is ours to catch."""
        parent = self._parent
        if not self._shield and parent is not None and effective_cancel(parent) is not None:
            # An outer cancelled scope is visible from here: it, not we, catches.
            deliver(host)
            return False
        # We are the catching scope: take back every cancel() treadle made on this task.
        for _ in range(host.delivered):
            task.uncancel()
        host.delivered = 0
        if exc is None:
            return False
        if isinstance(exc, asyncio.CancelledError):
            if task.cancelling() > self._cancelling:
                return False  # someone else also asked to cancel this task: let it through
            self._cancelled_caught = True
            return True
        if isinstance(exc, BaseExceptionGroup):
            matched, rest = exc.split(asyncio.CancelledError)
            if matched is not None and task.cancelling() <= self._cancelling:
                self._cancelled_caught = True
                if rest is None:
                    return True
                _reraise_as_is(rest)  # the group minus the cancellations we caused
        return False

    # -- cancelling -----------------------------------------------------------------------------

    def cancel(self, reason: str | None = None) -> None:
        """Cancel this scope: every checkpoint inside raises CancelledError until it exits.

        ``reason`` (trio.CancelScope.cancel's parameter, Trio 0.35) goes into the message of
        the CancelledError the tasks inside get, with the name of the task that called
        ``cancel()``: ``"cancelled by task 'main'; reason: shutting down"``. Idempotent (the
        first call's reason stays); harmless before entering (the scope starts cancelled) and
        after exiting.
        """
        if self._cancel_called:
            return
        task = _current_task()
        message = "cancelled by " + (f"task {task.get_name()!r}" if task else "a callback")
        self._cancel_with(message if reason is None else f"{message}; reason: {reason}")

    def _cancel_with(self, message: str) -> None:
        if self._cancel_called:
            return
        self._cancel_called = True
        self._reason = message
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._state is ScopeState.ACTIVE and (
            self._shield or self._parent is None or effective_cancel(self._parent) is None
        ):
            deliver_to_subtree(self)

    def _host_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            assert self._host is not None
            self._loop = self._host.task.get_loop()
        return self._loop

    def _expire(self) -> None:
        self._timer = None
        self._cancel_with(_DEADLINE_MESSAGE)

    @property
    def cancel_called(self) -> bool:
        """True once ``cancel()`` was called or the deadline passed."""
        if (
            not self._cancel_called
            and self._state is ScopeState.ACTIVE
            and self._deadline != math.inf
            and self._deadline <= self._host_loop().time()
        ):
            self._cancel_with(_DEADLINE_MESSAGE)  # the timer is due but has not run yet
        return self._cancel_called

    @property
    def cancelled_caught(self) -> bool:
        """True if this scope caught a CancelledError (that it caused) on exit."""
        return self._cancelled_caught

    # -- mutable deadline and shield ------------------------------------------------------------

    @property
    def deadline(self) -> float:
        return self._deadline

    @deadline.setter
    def deadline(self, value: float) -> None:
        value = float(value)
        if math.isnan(value):
            raise ValueError("deadline must not be NaN")
        self._deadline = value
        if self._state is not ScopeState.ACTIVE or self._cancel_called:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if value == math.inf:
            return
        loop = self._host_loop()
        if value <= loop.time():
            self._cancel_with(_DEADLINE_MESSAGE)
        else:
            self._timer = loop.call_at(value, self._expire)

    @property
    def shield(self) -> bool:
        return self._shield

    @shield.setter
    def shield(self, value: bool) -> None:
        if not isinstance(value, bool):
            raise TypeError("shield must be a bool")
        was = self._shield
        self._shield = value
        # Unshielding makes an outer cancellation visible inside: deliver it now.
        if (
            was
            and not value
            and self._state is ScopeState.ACTIVE
            and effective_cancel(self._parent) is not None
        ):
            deliver_to_subtree(self)


# -- the tree ---------------------------------------------------------------------------------


def cancel_message(scope: CancelScope | None) -> str | None:
    """The message for a CancelledError raised in ``scope``: its visible cancelled scope's."""
    origin = effective_cancel(scope)
    return origin._reason if origin is not None else None


def effective_cancel(scope: CancelScope | None) -> CancelScope | None:
    """The cancelled scope visible from ``scope`` (innermost first), or None."""
    while scope is not None:
        if scope._cancel_called:
            return scope
        if scope._shield:
            return None
        scope = scope._parent
    return None


def deliver_to_subtree(root: CancelScope) -> None:
    """Deliver cancellation to every task whose innermost scope lies under ``root``.

    Child scopes that are shielded, or cancelled themselves (their subtree got it already), are
    not entered. All the follow-up checks go in one callback queued after every wake-up.
    """
    batch: list[TaskState] = []
    message = cancel_message(root)  # one origin for the whole subtree
    pending = [root]
    while pending:
        scope = pending.pop()
        host = scope._host
        if host is not None and host.scope is scope:
            _deliver(host, batch, message)
        if scope._tasks:
            for state in scope._tasks:
                inner = state.scope
                if inner is scope:
                    _deliver(state, batch, message)
                    continue
                # A child's own root scope is reached through its state, not scope._children.
                root_scope = state.root
                if root_scope is None or root_scope._shield or root_scope._cancel_called:
                    continue
                if root_scope._children:
                    pending.append(root_scope)
                    continue
                if inner is not root_scope:
                    continue
                task = state.task
                waiter = task._fut_waiter  # type: ignore[attr-defined]  # as in _deliver
                if (
                    waiter is None
                    or state.in_flight
                    or state.immune
                    or waiter.done()
                    or task._must_cancel  # type: ignore[attr-defined]
                ):
                    _deliver(state, batch, message)
                    continue
                # _deliver()'s parked case in line, for every task of a cancelled AnyIO task
                # group: about 265 instructions fewer per task than the call (callgrind).
                state.in_flight = True
                state.delivered += 1
                state.waited_on = waiter
                task.cancel(message)
                batch.append(state)
        if scope._children:
            pending.extend(
                child for child in scope._children if not child._shield and not child._cancel_called
            )
    if batch:
        batch[0].task.get_loop().call_soon(_run_follow_ups, batch)


def deliver(state: TaskState) -> None:
    """Make ``state.task`` raise CancelledError at its next checkpoint (or now, if parked)."""
    batch: list[TaskState] = []
    _deliver(state, batch, cancel_message(state.scope))
    if batch:
        state.task.get_loop().call_soon(_run_follow_ups, batch)


def _deliver(state: TaskState, batch: list[TaskState], message: str | None) -> None:
    if state.in_flight or state.immune:
        return
    task = state.task
    # _fut_waiter and _must_cancel: asyncio.Task's private state, not declared by typeshed.
    waiter = task._fut_waiter  # type: ignore[attr-defined]
    if waiter is not None and not waiter.done() and not task._must_cancel:  # type: ignore[attr-defined]
        # Parked: the common case, decided first (a task with a waiter is not done).
        state.in_flight = True
        state.delivered += 1
        state.waited_on = waiter
        task.cancel(message)
        batch.append(state)
        return
    if task.done():
        return
    state.in_flight = True
    if (
        task._must_cancel  # type: ignore[attr-defined]
        or (waiter is None and (_current_task() is task or not _has_started(task)))
        or (waiter is not None and waiter.done())
    ):
        # Running, not started, a cancellation already pending, or already woken (its waiter has
        # a result: cancelling now would throw that result away, e.g. an item a memory stream
        # handed over; Trio's abort fails the same way): decide after its next step.
        state.waited_on = None
    else:
        state.delivered += 1
        state.waited_on = waiter
        task.cancel(message)
    batch.append(state)


def _run_follow_ups(batch: list[TaskState]) -> None:
    for state in batch:
        # follow_up()'s first case, inlined: most cancelled tasks are done by now, and a done
        # task's state is not used again (it left ``states`` as the task ended). A child whose
        # runner reported its end has no task any more (report_child_exit).
        task = state.task
        if task is not None and not task.done():
            follow_up(state)


def follow_up(state: TaskState) -> None:
    """Runs after the task's next step: deliver again while it is still cancelled."""
    task = state.task
    if task is None or task.done() or effective_cancel(state.scope) is None:
        state.in_flight = False
        state.waited_on = None
        return
    waiter = state.waited_on
    if waiter is not None and waiter is task._fut_waiter:  # type: ignore[attr-defined]  # as above
        if waiter.done():
            # Its wake-up was queued after this check: look again next iteration.
            task.get_loop().call_soon(follow_up, state)
        else:
            # The cancel went to a future that did not finish on cancel() (an awaited Task
            # cleaning up, or one that swallowed it). Re-cancelling now would spin: wait for it.
            # Done callbacks run in the order added, so ours runs after the task's wake-up.
            waiter.add_done_callback(functools.partial(_follow_up_after, state))
        return
    state.in_flight = False
    state.waited_on = None
    deliver(state)


def _follow_up_after(state: TaskState, _: asyncio.Future[Any]) -> None:
    follow_up(state)


def _reraise_as_is(group: BaseExceptionGroup[BaseException]) -> None:
    """Raise ``group`` keeping the cause and context ``split()`` copied from the original.

    A plain ``raise`` inside ``__exit__`` would set ``__context__`` to the group being handled
    (the original), and ``raise ... from None`` would drop the cause: both hide what the body saw.
    """
    context = group.__context__
    try:
        raise group
    finally:
        group.__context__ = context
        del context, group


def _has_started(task: asyncio.Task[Any]) -> bool:
    coro = task.get_coro()
    frame = getattr(coro, "cr_frame", None)
    if frame is None:
        return True  # finished coroutine, or not a native coroutine: treat as running
    return bool(getattr(coro, "cr_suspended", True) or getattr(coro, "cr_running", False))
