"""Worker threads, and calls from other threads back into the loop.

Workers come from a pool of threads owned by the backend's run (one per loop), not from the
loop's default executor: AnyIO's default limiter allows 40 concurrent threads, and the default
executor has only ``min(32, cpus + 4)``, which would deadlock programs whose threads wait on each
other. The limiter, not the pool, bounds concurrency; idle threads are reused, and joined when the
run ends, so no worker outlives its run unless it is still busy in an abandoned call.

sniffio: a worker thread runs with no async library set (AnyIO's rule for every backend, so that
``anyio.run()`` inside a worker works); code the worker sends back with ``anyio.from_thread`` runs
with "treadle" set (compat/_sniffio.py).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import queue
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import anyio
from anyio import RunFinishedError

from treadle.structured import checkpoint

from .._sniffio import context_for_loop, context_for_worker, mark_treadle
from . import _register
from ._native import NativeScope, PerLoop, adopt, scope_is_cancelled, task_scope
from ._sync import CapacityLimiter

_T = TypeVar("_T")


class _Worker(threading.Thread):
    """One worker thread: runs the jobs it is handed, one at a time, until told to stop."""

    def __init__(self, pool: WorkerPool) -> None:
        super().__init__(name="treadle-anyio-worker", daemon=True)
        # A job runs the call and returns how to report its outcome to the loop.
        self.jobs: queue.SimpleQueue[Callable[[], Callable[[], None]] | None] = queue.SimpleQueue()
        self._pool = pool

    def run(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            report = job()
            del job  # nothing of the last job may outlive it while this thread sits idle
            # Back on the idle list *before* the loop hears of the outcome: once the caller
            # returns, the run may end and join its idle workers, and this one must be among
            # them, not a thread that exits a moment later on its own.
            stays = self._pool.back_to_idle(self)
            report()
            del report
            if not stays:
                return


class WorkerPool:
    """The worker threads of one run: reused while idle, joined when the run ends.

    A thread still busy at the end (abandoned with ``abandon_on_cancel=True``) is not waited
    for; it exits when its function returns.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._closed = False

    def submit(self, job: Callable[[], Callable[[], None]]) -> None:
        with self._lock:
            worker = self._idle.pop() if self._idle else None
        if worker is None:
            worker = _Worker(self)
            worker.start()
        worker.jobs.put(job)

    def back_to_idle(self, worker: _Worker) -> bool:
        with self._lock:
            if self._closed:
                return False
            self._idle.append(worker)
            return True

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.jobs.put(None)
        for worker in idle:
            worker.join()


_pools: PerLoop[WorkerPool] = PerLoop(WorkerPool)
_default_limiters: PerLoop[CapacityLimiter] = PerLoop(lambda: CapacityLimiter(40))


def current_default_thread_limiter() -> CapacityLimiter:
    return _default_limiters.get(asyncio.get_running_loop())


def _pool(loop: asyncio.AbstractEventLoop) -> WorkerPool:
    return _pools.get(loop)


def shutdown_workers(loop: asyncio.AbstractEventLoop) -> None:
    """End the run's idle workers (joined); a busy, abandoned one ends when its call returns."""
    pool = _pools.pop(loop)
    if pool is not None:
        pool.close()


async def run_sync_in_worker_thread(
    backend: type[Any],
    func: Callable[..., _T],
    args: tuple[Any, ...],
    abandon_on_cancel: bool,
    limiter: anyio.CapacityLimiter | None,
) -> _T:
    """``anyio.to_thread.run_sync``: run ``func(*args)`` in a worker, wait for its outcome."""
    await checkpoint()
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    async with limiter or current_default_thread_limiter():
        # The scope the worker's check_cancelled() looks at: the caller's own, since the shield
        # below would hide it.
        watched = task_scope(task)
        with NativeScope(shield=not abandon_on_cancel) as scope:
            if abandon_on_cancel:
                watched = scope
            context = context_for_worker()
            future: asyncio.Future[_T] = loop.create_future()
            job = [context, func, args]
            _pool(loop).submit(functools.partial(_work, backend, loop, watched, job, future))
            try:
                return await future
            except concurrent.futures.CancelledError:
                # The worker's from_thread.run() call was cancelled with the host's scope:
                # surface that as the host's own cancellation, which its scope catches.
                if scope_is_cancelled(task_scope(task)) or scope_is_cancelled(watched):
                    raise asyncio.CancelledError from None
                raise
    # Nothing cancels the scope above itself, so it never swallows an exception.
    raise AssertionError("unreachable")


def _work(
    backend: type[Any],
    loop: asyncio.AbstractEventLoop,
    watched: NativeScope | None,
    job: list[Any],
    future: asyncio.Future[Any],
) -> Callable[[], None]:
    # The job comes in a list we empty at once: the pool's work item keeps its arguments until
    # the thread takes the next job, and the caller's context, function and arguments must not
    # outlive the call (AnyIO checks with gc.get_referrers).
    context, func, args = job
    job.clear()
    threadlocals = _register.worker_threadlocals()
    threadlocals.current_cancel_scope = watched
    result: Any = None
    error: BaseException | None = None
    try:
        with _register.claim_worker_thread(backend, loop):
            try:
                result = context.run(func, *args)
            except BaseException as exc:
                error = exc
    finally:
        del threadlocals.current_cancel_scope
    del context, func, args
    if isinstance(error, StopIteration):
        # A Future cannot hold StopIteration; asyncio says the same of a coroutine raising it.
        converted = RuntimeError("coroutine raised StopIteration")
        converted.__cause__ = error
        error = converted
    # Every outcome, BaseExceptions too, goes to the caller.
    return functools.partial(_report, loop, future, result, error)


def _report(
    loop: asyncio.AbstractEventLoop,
    future: asyncio.Future[Any],
    result: Any,
    error: BaseException | None,
) -> None:
    try:
        loop.call_soon_threadsafe(_settle, future, result, error)
    except RuntimeError:
        pass  # the loop closed: the caller abandoned this thread and nobody waits for it


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():
        return  # abandoned on cancellation
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def check_cancelled() -> None:
    """``anyio.from_thread.check_cancelled``: raise CancelledError if the host is cancelled."""
    scope: NativeScope | None = getattr(
        _register.worker_threadlocals(), "current_cancel_scope", None
    )
    if scope_is_cancelled(scope):
        raise asyncio.CancelledError(f"Cancelled via cancel scope {id(scope):x}")


# -- from another thread into the loop ---------------------------------------------------------


def _token_loop(token: object) -> asyncio.AbstractEventLoop:
    loop: Any = token if token is not None else _register.worker_threadlocals().current_token
    if not isinstance(loop, asyncio.AbstractEventLoop):
        loop = loop.native_token
    if loop.is_closed():
        raise RunFinishedError
    return loop  # type: ignore[no-any-return]  # checked above


def run_async_from_thread(
    func: Callable[..., Coroutine[Any, Any, _T]], args: tuple[Any, ...], token: object
) -> _T:
    loop = _token_loop(token)
    # From a worker thread: the task lives in the worker's host scope (AnyIO's rule).
    host_scope: NativeScope | None = getattr(
        _register.worker_threadlocals(), "current_cancel_scope", None
    )

    async def task_main() -> _T:
        try:
            return await func(*args)
        except asyncio.CancelledError as exc:
            # The caller waits on a concurrent.futures.Future: give it that module's error.
            raise concurrent.futures.CancelledError(str(exc)) from None

    def start() -> asyncio.Future[_T]:
        task = loop.create_task(task_main())
        if host_scope is not None:
            adopt(task, host_scope)
        return task

    context = context_for_loop()
    outcome: concurrent.futures.Future[_T] = concurrent.futures.Future()
    try:
        loop.call_soon_threadsafe(context.run, _chain_into, start, outcome)
    except RuntimeError:
        raise RunFinishedError from None
    return outcome.result()


def _chain_into(
    start: Callable[[], asyncio.Future[_T]], outcome: concurrent.futures.Future[_T]
) -> None:
    if not outcome.set_running_or_notify_cancel():
        return
    try:
        task = start()
    except BaseException as exc:
        outcome.set_exception(exc)
        raise
    task.add_done_callback(lambda done: _copy_to_concurrent(done, outcome))


def _copy_to_concurrent(done: asyncio.Future[_T], outcome: concurrent.futures.Future[_T]) -> None:
    if done.cancelled():
        outcome.set_exception(concurrent.futures.CancelledError())
    elif (error := done.exception()) is not None:
        outcome.set_exception(error)
    else:
        outcome.set_result(done.result())


def run_sync_from_thread(func: Callable[..., _T], args: tuple[Any, ...], token: object) -> _T:
    loop = _token_loop(token)
    outcome: concurrent.futures.Future[_T] = concurrent.futures.Future()

    def call() -> None:
        mark_treadle()
        try:
            outcome.set_result(func(*args))
        except BaseException as exc:
            outcome.set_exception(exc)
            if not isinstance(exc, Exception):
                raise

    try:
        loop.call_soon_threadsafe(contextvars.copy_context().run, call)
    except RuntimeError:
        raise RunFinishedError from None
    return outcome.result()


def run_sync_soon(func: Callable[..., object], args: tuple[Any, ...], token: object) -> None:
    loop: Any = token
    context = context_for_loop()
    try:
        loop.call_soon_threadsafe(context.run, func, *args)
    except RuntimeError:
        if loop.is_closed():
            raise RunFinishedError from None
        raise
