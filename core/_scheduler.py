"""The scheduler: a ready queue, a timer heap, and the loop's iterations.

How an iteration works (``run_until_stopped`` runs them until ``stopping`` is set):
1. Decide how long the poller may block: not at all when callbacks are ready or the loop is
   stopping; until the earliest timer otherwise (asking the clock, which may be virtual); forever
   when there is nothing to wait for. An idle waiter (``wait_all_tasks_blocked``, a clock's
   autojump) caps the wait at its cushion.
2. Poll, and append the handles of ready fds to the ready queue.
3. Move every timer due by now (plus the clock's resolution, as asyncio does) to the ready queue.
4. Run exactly the callbacks that were ready at this point; what they schedule waits for the next
   iteration, so a callback that reschedules itself cannot starve I/O.

Invariants and choices:
- Timers live in a heap of the handles themselves, compared by deadline (``TimerHandle.__lt__``),
  as in asyncio. Until issue 12 the heap held ``(when, seq, handle)`` tuples, which compare in C,
  but a tuple and a sequence number cost about 90 bytes per pending timer more than asyncio's
  handles alone (the issue asks for no more); timer churn paid about 10% for the change.
- Equal deadlines still fire in the order they were scheduled (asyncio leaves that order
  unspecified; FIFO keeps tests deterministic), without a sequence number per timer: a timer
  whose deadline is later than every pending one (the common case: the same timeout, scheduled
  as time goes on) cannot tie and keeps ``_scheduled = True``; any other gets a rank from a
  counter in ``_scheduled``: 2, 3, ... (truthy, so asyncio's own ``TimerHandle.cancel`` reads it
  right; never 1, so ``True`` and a rank differ by value, which compiled code can compare). When
  due timers are moved to the ready queue and one of them is ranked, that batch is sorted by
  (deadline, rank). Equal deadlines are always due in the same iteration, so ordering the batch
  is enough. The counter restarts when the heap is empty, which keeps ranks small ints that
  Python does not allocate.
- Cancelled timers stay in the heap until they reach the top or until more than half the heap is
  cancelled, when it is rebuilt without them: a million call_later+cancel pairs use bounded memory.
- ``polling`` is raised *before* the ready queue is checked, and ``call_soon_threadsafe`` appends
  *before* reading it; under the GIL that ordering means either the loop sees the new callback or
  the caller sees the flag and wakes the poller, never neither. The caller that sees the flag up
  lowers it *before* writing the wake-up, so one write serves a poll: a later caller that finds it
  down came after that lowering, and the write that follows it is still to come or already
  readable (a spurious wake-up of the next poll at worst).
- A thread that posts past a backlog waits for the top of the next iteration (``posters``,
  _wakeup.py); the test for waiters is one list cell, read once per iteration.
- A callback's exception goes to the loop's exception handler; SystemExit and KeyboardInterrupt
  propagate out of ``run_until_stopped`` with the rest of the queue intact, so the loop stays
  usable.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable
from contextvars import Context
from heapq import heappop, heappush
from typing import Any, Final, Protocol, cast

from ._clock import Clock
from ._fdregistry import FdRegistry
from ._handles import LoopHandle, LoopTimerHandle
from ._ready import run_ready
from ._timer_sweep import sweep_cancelled
from ._wakeup import PosterGate
from .poll import Poller

logger = logging.getLogger("asyncio")

# asyncio caps a single wait at one day; an infinite deadline still wakes once a day.
MAX_POLL_TIMEOUT: Final = 24 * 3600.0
# Rebuild the heap only when it holds enough cancelled timers for the rebuild to pay off.
_PURGE_MIN_CANCELLED: Final = 100

# Every module constant the loop reads per iteration or per callback is Final: compiled, Final
# names are C statics (or inlined), any other global is a module-dict lookup at each use (xport4,
# session 4: five such lookups per iteration, about 60 ns).
_run_in: Final = Context.run
_CONTEXT: Final = Context
# Final: compiled, a C static rather than a module-dict lookup per timer.
_heappush: Final = heappush
# Ready callbacks up to which an iteration runs them inline; a larger batch goes to _ready.py,
# which stays interpreted in the compiled build (its docstring says why).
_INLINE_BATCH: Final = 4
_NO_EVENTS: Final[list[tuple[int, int]]] = []  # never appended to: dispatch only reads it

ExceptionReporter = Callable[[LoopHandle, BaseException], None]


class IOWaitHook(Protocol):
    def before_io_wait(self, timeout: float) -> None: ...
    def after_io_wait(self, timeout: float) -> None: ...


class Scheduler:
    def __init__(self, poller: Poller, clock: Clock, report_error: ExceptionReporter) -> None:
        self.ready: deque[LoopHandle] = deque()
        self.timers: list[LoopTimerHandle] = []  # a heap, by TimerHandle.__lt__ (deadline)
        # invariant: no pending timer's deadline is above this (see the module docstring). Any, not
        # float: asyncio accepts any number (a Decimal, say), and compiled by mypyc a float
        # annotation would turn those into a TypeError of mypyc's wording.
        self.latest_deadline: Any = 0.0
        self.last_rank = 1  # the rank last given to a timer that may tie (ranks start at 2)
        # invariant: cancelled_timers[0] is how many entries of ``timers`` are cancelled. One list
        # cell, not an int attribute: Timer.cancel() (interpreted) bumps it, and a compiled
        # class's attribute is a descriptor call the interpreter cannot specialise, where a list
        # cell is (timer_churn, compiled: cancel() 137 -> 107 ns, as in the pure build).
        self.cancelled_timers: list[int] = [0]
        self.registry = FdRegistry(poller, self.ready)
        self._watched = self.registry.interests
        # Registered fds whose readiness matters only to a blocking poll: the loop's own wake-up
        # fd. With no other fd watched, a busy iteration has nothing to ask the kernel about.
        self.wake_only_fds = 0
        self.clock = clock
        self.stopping = False
        self.polling = False
        self.debug = False
        self.slow_callback_duration = 0.1
        self.current_handle: LoopHandle | None = None  # kept in debug mode only, like asyncio
        self.idle_waiters: list[tuple[float, int, LoopHandle]] = []
        # Threads that posted past a backlog wait here for the next iteration (_wakeup.py).
        self.posters = PosterGate()
        # Instruments' before/after-I/O-wait hooks; empty (one falsy test per iteration) by default.
        self.io_wait_hooks: list[IOWaitHook] = []
        self.next_seq = itertools.count().__next__  # tie-breaker: FIFO among equal deadlines
        self._report_error = report_error
        self._clock_resolution = time.get_clock_info("monotonic").resolution

    # -- timers ---------------------------------------------------------------------------------

    def push_timer(self, timer: LoopTimerHandle, when: Any) -> bool | int:
        """Add ``timer`` (deadline ``when``) to the heap; return what its ``_scheduled`` becomes:
        True, or a rank for FIFO order if its deadline may tie.

        The caller stores the result, and passes ``when``: it holds both in locals, and the
        interpreter reaches a handle's slots directly where compiled code makes a generic
        attribute call (compiled call_later 503 -> 450 ns, pure 485 -> 475 ns).
        """
        timers = self.timers
        scheduled: bool | int = True
        if not timers:
            self.latest_deadline = when
            self.last_rank = 1
        elif self.latest_deadline < when:  # False for NaN: such a timer is ranked
            self.latest_deadline = when
        else:
            self.last_rank += 1
            scheduled = self.last_rank
        _heappush(timers, timer)
        return scheduled

    def _purge_cancelled_timers(self) -> None:
        sweep_cancelled(self.timers)  # interpreted even when this is compiled (its docstring)
        self.cancelled_timers[0] = 0

    def _drop_cancelled_head(self) -> None:
        timers = self.timers
        while timers and timers[0]._cancelled:
            heappop(timers)._scheduled = False
            self.cancelled_timers[0] -= 1

    # -- idle waiters ---------------------------------------------------------------------------

    def add_idle_waiter(self, cushion: float, handle: LoopHandle) -> None:
        """Make ``handle`` ready once the loop has had nothing to do for ``cushion`` seconds."""
        heapq.heappush(self.idle_waiters, (cushion, self.next_seq(), handle))

    # -- the iterations ---------------------------------------------------------------------------

    def run_until_stopped(self) -> None:
        """Run iterations (at least one) until ``stopping`` is set; see the module docstring.

        One function for the whole loop rather than a call per iteration: the containers are read
        into locals once, and the ready callbacks run inline. CPU time per op (3.13): call_soon
        chain 745 -> 600 ns; CPU-time ratio to asyncio on future round trips 1.62x -> 1.82x.
        """
        ready = self.ready
        timers = self.timers
        cancelled_timers = self.cancelled_timers
        idle = self.idle_waiters
        hooks = self.io_wait_hooks
        watched = self._watched
        registry = self.registry  # compiled: a direct C call, where a bound method is not
        popleft = ready.popleft
        report_error = self._report_error
        posters_waiting = self.posters.waiting
        handle: LoopHandle | None = None
        context: Any = None  # what a user passed as context=, checked only by running it
        args: tuple[Any, ...] | None = None
        while True:
            if posters_waiting[0]:
                self.posters.release()  # what they queued before has run (_wakeup.py)
            cancelled = cancelled_timers[0]
            if cancelled > _PURGE_MIN_CANCELLED and cancelled * 2 > len(timers):
                self._purge_cancelled_timers()
            elif timers and timers[0]._cancelled:
                self._drop_cancelled_head()

            self.polling = True
            # _poll_timeout()'s first case inlined: with callbacks ready (a busy loop) it is the
            # only case taken (callgrind: 2% on a call_soon chain).
            timeout = 0.0 if ready or self.stopping else self._poll_timeout()
            idle_wait = False
            if idle:
                timeout, idle_wait = self._cap_for_idle_waiters(timeout)
            if hooks:
                events = self._poll_with_hooks(timeout)
            elif timeout == 0.0 and len(watched) <= self.wake_only_fds:
                # Busy, and nothing watched that a poll could report (see wake_only_fds): skip
                # the syscall. A wake-up written meanwhile stays readable for the next blocking
                # poll. CPU time per op: call_soon chain 1156 -> 745 ns (3.13).
                events = _NO_EVENTS
            else:
                events = registry.poll(timeout)
            self.polling = False

            if events:
                registry.dispatch(events)
            elif idle_wait and not ready:
                ready.append(heapq.heappop(idle)[2])
            if timers:
                self._move_due_timers(timers, ready)

            count = len(ready)
            if self.debug:
                self._run_ready_debug(count)
            elif count > _INLINE_BATCH:
                run_ready(ready, count, report_error)  # interpreted even when this is compiled
            else:
                # _ready.run_ready's loop, inline: one callback per iteration is the common case,
                # where calls cost most (see the docstring: 745 -> 600 ns). Only what was ready
                # now; Handle._run() inlined (one frame less per callback).
                for _ in range(count):
                    handle = popleft()
                    if handle._cancelled:
                        continue
                    try:
                        context = handle._context
                        if type(context) is _CONTEXT:
                            # Unbound: `context.run(...)` with *args builds a bound method per
                            # call; 125 -> 100 ns per callback (3.13). Anything else a user passed
                            # as context fails as it does on asyncio's loop.
                            # No *args for the common arities, as in _ready.py.
                            args = handle._args
                            if not args:
                                _run_in(context, handle._callback)
                            elif len(args) == 1:
                                _run_in(context, handle._callback, args[0])
                            else:
                                _run_in(context, handle._callback, *args)
                        else:
                            context.run(handle._callback, *handle._args)
                    except (SystemExit, KeyboardInterrupt):
                        raise
                    except BaseException as exc:
                        report_error(handle, exc)
                # A callback's exception may keep this frame alive through its traceback, and the
                # frame lives on while the loop waits: it must not keep the last handle (or its
                # context) alive.
                handle = context = args = None
            if self.stopping:
                return

    def _cap_for_idle_waiters(self, timeout: float) -> tuple[float, bool]:
        """An idle waiter caps a blocking wait at its cushion; say whether it did."""
        idle = self.idle_waiters
        while idle and idle[0][2]._cancelled:
            heapq.heappop(idle)
        if idle and timeout != 0.0:
            cushion = idle[0][0]
            if timeout < 0 or cushion < timeout:
                return cushion, True
        return timeout, False

    def _move_due_timers(self, timers: list[LoopTimerHandle], ready: deque[LoopHandle]) -> None:
        end = self.clock.current_time() + self._clock_resolution
        due = 0
        ranked = False
        while timers:
            handle = timers[0]
            if handle._when >= end:  # written so that a NaN deadline fires at once, as in asyncio
                break
            heappop(timers)
            if handle._cancelled:
                handle._scheduled = False
                self.cancelled_timers[0] -= 1
                continue
            if handle._scheduled > 1:  # ranked: it may share its deadline (module docstring)
                ranked = True
            else:
                handle._scheduled = False  # sorts before every rank in _order_ties
            ready.append(handle)
            due += 1
        if ranked:
            _order_ties(ready, due)

    def _poll_with_hooks(self, timeout: float) -> list[tuple[int, int]]:
        for hook in self.io_wait_hooks:
            hook.before_io_wait(timeout)
        try:
            return self.registry.poll(timeout)
        finally:
            for hook in self.io_wait_hooks:
                hook.after_io_wait(timeout)

    def _poll_timeout(self) -> float:
        if self.ready or self.stopping:
            return 0.0
        if not self.timers:
            return -1.0
        timeout = self.clock.deadline_to_sleep_time(self.timers[0]._when)
        if not timeout > 0.0:  # also catches NaN
            return 0.0
        return min(timeout, MAX_POLL_TIMEOUT)

    def _run_ready_debug(self, count: int) -> None:
        handle: LoopHandle | None = None
        popleft = self.ready.popleft
        for _ in range(count):
            handle = popleft()
            if handle._cancelled:
                continue
            self.current_handle = handle
            started = time.monotonic()
            try:
                handle._context.run(handle._callback, *handle._args)
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._report_error(handle, exc)
            finally:
                self.current_handle = None
            elapsed = time.monotonic() - started
            if elapsed >= self.slow_callback_duration:
                logger.warning("Executing %s took %.3f seconds", _describe(handle), elapsed)
        handle = None  # as in _run_ready: no reference cycle through a traceback

    def close(self) -> None:
        self.ready.clear()
        for handle in self.timers:
            handle._scheduled = False
        self.timers.clear()
        self.cancelled_timers[0] = 0
        self.idle_waiters.clear()
        self.registry.close()


def _order_ties(ready: deque[LoopHandle], due: int) -> None:
    """Sort the ``due`` timers at the end of ``ready`` by (deadline, rank): FIFO among ties."""
    batch = [cast("LoopTimerHandle", ready.pop()) for _ in range(due)]
    batch.sort(key=_deadline_and_rank)
    for handle in batch:
        handle._scheduled = False
    ready.extend(batch)


def _deadline_and_rank(handle: LoopTimerHandle) -> tuple[Any, int]:
    return (handle._when, handle._scheduled)


def _describe(handle: LoopHandle) -> str:
    # asyncio names the task rather than its step method when a task step was slow.
    owner = getattr(handle._callback, "__self__", None)
    if isinstance(owner, asyncio.Task):
        return repr(owner)
    return str(handle)
