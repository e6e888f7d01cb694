"""The test runner AnyIO's pytest plugin uses for ``anyio_backend = "treadle"``.

One treadle loop (an ``asyncio.Runner``) serves a test and its fixtures: a long-lived runner task
takes coroutines from a memory stream and runs them one at a time, so async generator fixtures
set up and torn down in the same task, as AnyIO requires. Errors that reach the loop's exception
handler are re-raised in the test, as AnyIO's asyncio runner does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine, Iterable
from types import TracebackType
from typing import Any, Self, TypeVar

import anyio.abc
from anyio import create_memory_object_stream
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ._loop import loop_factory
from ._threads import shutdown_workers

_T = TypeVar("_T")
_Item = tuple[Awaitable[Any], "asyncio.Future[Any]"]


class TestRunner(anyio.abc.TestRunner):
    """Options: those of ``anyio.run(..., backend="treadle")`` (debug, clock, poller)."""

    __test__ = False  # not a pytest test class, whatever its name says

    def __init__(self, **options: Any) -> None:
        debug = options.pop("debug", None)
        self._runner = asyncio.Runner(debug=debug, loop_factory=loop_factory(options))
        self._exceptions: list[BaseException] = []
        self._runner_task: asyncio.Task[None] | None = None
        self._send: MemoryObjectSendStream[_Item] | None = None

    def __enter__(self) -> Self:
        self._runner.__enter__()
        self._loop().set_exception_handler(self._on_loop_error)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        loop = self._loop()
        try:
            self._runner.__exit__(exc_type, exc_val, exc_tb)
        finally:
            shutdown_workers(loop)

    def _loop(self) -> asyncio.AbstractEventLoop:
        return self._runner.get_loop()

    def is_running(self) -> bool:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return False
        return True

    def _on_loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if isinstance(context.get("exception"), Exception):
            self._exceptions.append(context["exception"])
        else:
            loop.default_exception_handler(context)

    def _raise_loop_errors(self) -> None:
        if not self._exceptions:
            return
        errors, self._exceptions = self._exceptions, []
        if len(errors) == 1:
            raise errors[0]
        raise BaseExceptionGroup("Multiple exceptions occurred in asynchronous callbacks", errors)

    async def _serve(self, receive: MemoryObjectReceiveStream[_Item]) -> None:
        from _pytest.outcomes import OutcomeException

        assert self._send is not None
        with receive, self._send:
            async for awaitable, future in receive:
                try:
                    value = await awaitable
                except asyncio.CancelledError as exc:
                    if not future.cancelled():
                        future.cancel(*exc.args)
                    raise
                except BaseException as exc:
                    if not future.cancelled():
                        future.set_exception(exc)
                    if not isinstance(exc, Exception | OutcomeException):
                        raise
                else:
                    if not future.cancelled():
                        future.set_result(value)

    async def _call(self, func: Callable[..., Awaitable[_T]], *args: Any, **kwargs: Any) -> _T:
        if self._runner_task is None:
            self._send, receive = create_memory_object_stream[_Item](1)
            self._runner_task = self._loop().create_task(self._serve(receive))
        assert self._send is not None
        future: asyncio.Future[_T] = self._loop().create_future()
        self._send.send_nowait((func(*args, **kwargs), future))
        return await future

    def _run(self, func: Callable[..., Awaitable[_T]], *args: Any, **kwargs: Any) -> _T:
        return self._loop().run_until_complete(self._call(func, *args, **kwargs))

    def run_asyncgen_fixture(
        self,
        fixture_func: Callable[..., AsyncGenerator[_T, Any]],
        kwargs: dict[str, Any],
    ) -> Iterable[_T]:
        agen = fixture_func(**kwargs)
        value: _T = self._run(agen.asend, None)
        self._raise_loop_errors()
        yield value
        try:
            self._run(agen.asend, None)
        except StopAsyncIteration:
            self._raise_loop_errors()
        else:
            self._loop().run_until_complete(agen.aclose())
            raise RuntimeError("Async generator fixture did not stop")

    def run_fixture(
        self, fixture_func: Callable[..., Coroutine[Any, Any, _T]], kwargs: dict[str, Any]
    ) -> _T:
        value = self._run(fixture_func, **kwargs)
        self._raise_loop_errors()
        return value

    def run_test(
        self, test_func: Callable[..., Coroutine[Any, Any, Any]], kwargs: dict[str, Any]
    ) -> None:
        from _pytest.outcomes import OutcomeException

        try:
            self._run(test_func, **kwargs)
        except Exception as exc:
            self._exceptions.append(exc)
        except OutcomeException:
            raise
        except BaseException:
            self._stop_runner_task()
            raise
        self._raise_loop_errors()

    def _stop_runner_task(self) -> None:
        # KeyboardInterrupt or SystemExit stopped the loop mid-test: the runner task must not
        # resume when fixture teardown runs the loop again.
        task, self._runner_task = self._runner_task, None
        if task is None or task.done():
            return
        task.cancel()
        if self._send is not None:
            self._send.close()
        try:
            self._loop().run_until_complete(task)
        except asyncio.CancelledError:
            pass
