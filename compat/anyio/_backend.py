"""TreadleBackend: AnyIO's ``AsyncBackend`` on treadle's loop and structured concurrency.

Each method delegates to a treadle piece: cancel scopes and task groups to treadle's native
scopes and nurseries (``_tasks.py``), sleeping and checkpoints to ``treadle.structured``, sockets
to the loop's ``sock_*`` coroutines (``_sockets.py``), threads to a per-run pool
(``_threads.py``). AnyIO's pytest plugin and ``anyio.run(..., backend="treadle")`` reach this
class through ``_register.py``.
"""

from __future__ import annotations

import asyncio
import math
import socket
import types
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Generator, Sequence
from contextlib import AbstractContextManager
from signal import Signals
from typing import IO, Any, TypeVar

import anyio.abc
from anyio import TaskInfo
from anyio.abc import AsyncBackend

import treadle.structured as structured

from . import _fdwait, _process, _sockets, _threads
from ._loop import loop_factory
from ._native import raise_if_cancelled
from ._signals import SignalReceiver
from ._sync import CapacityLimiter, Event, Lock, Semaphore, cancel_shielded_checkpoint
from ._taskinfo import TreadleTaskInfo
from ._tasks import TaskGroup, new_cancel_scope
from ._testing import TestRunner

_T = TypeVar("_T")

# Tasks started by setup_process_pool_exit_at_shutdown, held until they finish.
_PENDING_POOL_SHUTDOWNS: set[asyncio.Task[None]] = set()


@types.coroutine
def _checkpoint() -> Generator[None, None, None]:
    # Yield first, then raise if cancelled: a cancelled checkpoint still lets the other tasks
    # run once, as Trio's and AnyIO's asyncio backend's do (treadle.structured's raises before
    # yielding). AnyIO's TLS tests depend on that turn.
    yield  # a bare yield: the Task reschedules itself with call_soon, like asyncio.sleep(0)
    raise_if_cancelled()


class TreadleBackend(AsyncBackend):
    """The "treadle" AnyIO backend. Options for ``anyio.run``: ``debug``, ``clock``, ``poller``."""

    # -- running --------------------------------------------------------------------------------

    @classmethod
    def run(
        cls,
        func: Callable[..., Awaitable[_T]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        options: dict[str, Any],
    ) -> _T:
        options = dict(options)
        debug = options.pop("debug", None)
        factory = loop_factory(options)

        async def main() -> _T:
            task = asyncio.current_task()
            assert task is not None
            task.set_name(_name_of(func))
            return await func(*args)

        with asyncio.Runner(debug=debug, loop_factory=factory) as runner:
            try:
                return runner.run(main())
            finally:
                _threads.shutdown_workers(runner.get_loop())

    @classmethod
    def current_token(cls) -> object:
        return asyncio.get_running_loop()

    @classmethod
    def current_time(cls) -> float:
        return asyncio.get_running_loop().time()

    @classmethod
    def cancelled_exception_class(cls) -> type[BaseException]:
        return asyncio.CancelledError

    # -- checkpoints, time, cancellation --------------------------------------------------------

    # Not a coroutine function: anyio.lowlevel.checkpoint() (its only caller) awaits what this
    # returns, and handing it the generator saves a coroutine frame per checkpoint: about 425
    # instructions fewer per checkpoint (callgrind, AnyIO's memory-stream ping-pong, which
    # makes eight per round trip).
    @classmethod
    def checkpoint(cls) -> Awaitable[None]:  # type: ignore[override]  # see above
        return _checkpoint()

    @classmethod
    async def checkpoint_if_cancelled(cls) -> None:
        await structured.checkpoint_if_cancelled()

    @classmethod
    async def cancel_shielded_checkpoint(cls) -> None:
        await cancel_shielded_checkpoint()

    # Not a coroutine function: anyio.sleep() (its only caller) awaits what this returns, so
    # handing it the future, or treadle's own sleep coroutine, saves a frame on every sleeping
    # task's way in and, when it is cancelled, on its way out: cancelling 1000 parked
    # anyio.sleep_forever() tasks took 0.15 ms less (2.97 -> 2.82 ms, 3.13). AnyIO checked
    # ``delay`` already.
    @classmethod
    def sleep(cls, delay: float) -> Awaitable[None]:  # type: ignore[override]  # see above
        if delay == math.inf:
            raise_if_cancelled()
            return asyncio.get_running_loop().create_future()  # a future nobody completes
        if delay == 0:
            return structured.checkpoint()
        return structured.sleep_until(asyncio.get_running_loop().time() + delay)

    # AnyIO calls this for every ``anyio.CancelScope()``: the function itself, not a classmethod
    # calling it, saves a call layer (100k scopes: about 5 ms of 90).
    create_cancel_scope = staticmethod(new_cancel_scope)

    @classmethod
    def current_effective_deadline(cls) -> float:
        if asyncio.current_task() is None:
            return math.inf
        return structured.current_effective_deadline()

    @classmethod
    def create_task_group(cls) -> anyio.abc.TaskGroup:
        return TaskGroup()

    # -- synchronization ------------------------------------------------------------------------

    @classmethod
    def create_event(cls) -> Event:
        return Event()

    @classmethod
    def create_lock(cls, *, fast_acquire: bool) -> Lock:
        return Lock(fast_acquire=fast_acquire)

    @classmethod
    def create_semaphore(
        cls, initial_value: int, *, max_value: int | None = None, fast_acquire: bool = False
    ) -> Semaphore:
        return Semaphore(initial_value, max_value=max_value, fast_acquire=fast_acquire)

    @classmethod
    def create_capacity_limiter(cls, total_tokens: float) -> CapacityLimiter:
        return CapacityLimiter(total_tokens)

    @classmethod
    def current_default_thread_limiter(cls) -> CapacityLimiter:
        return _threads.current_default_thread_limiter()

    # -- threads --------------------------------------------------------------------------------

    @classmethod
    async def run_sync_in_worker_thread(
        cls,
        func: Callable[..., _T],
        args: tuple[Any, ...],
        abandon_on_cancel: bool = False,
        limiter: anyio.CapacityLimiter | None = None,
    ) -> _T:
        return await _threads.run_sync_in_worker_thread(cls, func, args, abandon_on_cancel, limiter)

    @classmethod
    def check_cancelled(cls) -> None:
        _threads.check_cancelled()

    @classmethod
    def run_async_from_thread(
        cls, func: Callable[..., Coroutine[Any, Any, _T]], args: tuple[Any, ...], token: object
    ) -> _T:
        return _threads.run_async_from_thread(func, args, token)

    @classmethod
    def run_sync_from_thread(
        cls, func: Callable[..., _T], args: tuple[Any, ...], token: object
    ) -> _T:
        return _threads.run_sync_from_thread(func, args, token)

    @classmethod
    def run_sync_soon(
        cls, func: Callable[..., object], args: tuple[Any, ...], token: object
    ) -> None:
        _threads.run_sync_soon(func, args, token)

    # -- processes ------------------------------------------------------------------------------

    @classmethod
    async def open_process(
        cls,
        command: Any,
        *,
        stdin: int | IO[Any] | None,
        stdout: int | IO[Any] | None,
        stderr: int | IO[Any] | None,
        **kwargs: Any,
    ) -> anyio.abc.Process:
        return await _process.open_process(
            command, stdin=stdin, stdout=stdout, stderr=stderr, **kwargs
        )

    @classmethod
    def setup_process_pool_exit_at_shutdown(cls, workers: set[anyio.abc.Process]) -> None:
        task = asyncio.get_running_loop().create_task(
            _process.shutdown_process_pool_on_exit(workers),
            name="AnyIO process pool shutdown task",
        )
        # The task parks in treadle's sleep(math.inf), which arms no timer: nothing on the loop
        # refers to it (asyncio's sleep would, through its timer handle). Hold it until it ends,
        # so it is still there for the end of the run to cancel, instead of being collected as
        # "destroyed but pending" with the workers left running.
        _PENDING_POOL_SHUTDOWNS.add(task)
        task.add_done_callback(_PENDING_POOL_SHUTDOWNS.discard)

    # -- sockets --------------------------------------------------------------------------------

    @classmethod
    async def connect_tcp(
        cls, host: str, port: int, local_address: tuple[str, int] | None = None
    ) -> anyio.abc.SocketStream:
        return await _sockets.connect_tcp(host, port, local_address)

    @classmethod
    async def connect_unix(cls, path: str | bytes, kind: Any = socket.SOCK_STREAM) -> Any:
        return await _sockets.connect_unix(path, kind)

    @classmethod
    def create_tcp_listener(cls, sock: socket.socket) -> anyio.abc.SocketListener:
        return _sockets.TCPSocketListener(sock)

    @classmethod
    def create_unix_listener(cls, sock: socket.socket) -> anyio.abc.SocketListener:
        return _sockets.UNIXSocketListener(sock)

    @classmethod
    async def create_udp_socket(
        cls,
        family: socket.AddressFamily,
        local_address: tuple[str, int] | None,
        remote_address: tuple[str, int] | None,
        reuse_port: bool,
    ) -> anyio.abc.UDPSocket | anyio.abc.ConnectedUDPSocket:
        return await _sockets.create_udp_socket(family, local_address, remote_address, reuse_port)

    @classmethod
    async def create_unix_datagram_socket(  # type: ignore[override]  # AnyIO overloads it
        cls, raw_socket: socket.socket, remote_path: str | bytes | None
    ) -> anyio.abc.UNIXDatagramSocket | anyio.abc.ConnectedUNIXDatagramSocket:
        return await _sockets.create_unix_datagram_socket(raw_socket, remote_path)

    @classmethod
    async def getaddrinfo(
        cls,
        host: bytes | str | None,
        port: str | int | None,
        *,
        family: int | socket.AddressFamily = 0,
        type: int | socket.SocketKind = 0,
        proto: int = 0,
        flags: int = 0,
    ) -> Sequence[tuple[socket.AddressFamily, socket.SocketKind, int, str, Any]]:
        loop = asyncio.get_running_loop()
        return await loop.getaddrinfo(
            host, port, family=family, type=type, proto=proto, flags=flags
        )

    @classmethod
    async def getnameinfo(cls, sockaddr: tuple[str, int], flags: int = 0) -> tuple[str, str]:
        return await asyncio.get_running_loop().getnameinfo(sockaddr, flags)

    @classmethod
    async def wait_readable(cls, obj: Any) -> None:
        await _fdwait.wait_readable(obj)

    @classmethod
    async def wait_writable(cls, obj: Any) -> None:
        await _fdwait.wait_writable(obj)

    @classmethod
    def notify_closing(cls, obj: Any) -> None:
        _fdwait.notify_closing(obj)

    @classmethod
    async def wrap_listener_socket(cls, sock: socket.socket) -> anyio.abc.SocketListener:
        if sock.family == socket.AF_UNIX:
            return _sockets.UNIXSocketListener(sock)
        return _sockets.TCPSocketListener(sock)

    @classmethod
    async def wrap_stream_socket(cls, sock: socket.socket) -> anyio.abc.SocketStream:
        return _sockets.SocketStream(sock)

    @classmethod
    async def wrap_unix_stream_socket(cls, sock: socket.socket) -> anyio.abc.UNIXSocketStream:
        return _sockets.UNIXSocketStream(sock)

    @classmethod
    async def wrap_udp_socket(cls, sock: socket.socket) -> anyio.abc.UDPSocket:
        return _sockets.UDPSocket(sock)

    @classmethod
    async def wrap_connected_udp_socket(cls, sock: socket.socket) -> anyio.abc.ConnectedUDPSocket:
        return _sockets.ConnectedUDPSocket(sock)

    @classmethod
    async def wrap_unix_datagram_socket(cls, sock: socket.socket) -> anyio.abc.UNIXDatagramSocket:
        return _sockets.UNIXDatagramSocket(sock)

    @classmethod
    async def wrap_connected_unix_datagram_socket(
        cls, sock: socket.socket
    ) -> anyio.abc.ConnectedUNIXDatagramSocket:
        return _sockets.ConnectedUNIXDatagramSocket(sock)

    # -- signals, introspection, testing --------------------------------------------------------

    @classmethod
    def open_signal_receiver(
        cls, *signals: Signals
    ) -> AbstractContextManager[AsyncIterator[Signals]]:
        return SignalReceiver(signals)

    @classmethod
    def get_current_task(cls) -> TaskInfo:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("get_current_task() must be called from inside a task")
        return TreadleTaskInfo(task)

    @classmethod
    def get_running_tasks(cls) -> Sequence[TaskInfo]:
        return [TreadleTaskInfo(task) for task in asyncio.all_tasks() if not task.done()]

    @classmethod
    async def wait_all_tasks_blocked(cls) -> None:
        await structured.wait_all_tasks_blocked()

    @classmethod
    def create_test_runner(cls, options: dict[str, Any]) -> TestRunner:
        return TestRunner(**options)


def _name_of(func: Callable[..., Any]) -> str:
    module = getattr(func, "__module__", None)
    qualname = getattr(func, "__qualname__", None)
    return ".".join(part for part in (module, qualname) if part) or repr(func)
