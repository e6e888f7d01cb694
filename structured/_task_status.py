"""TaskStatus: how a child started with ``nursery.start()`` says it is ready.

``TaskStatus`` is generic in the value passed to ``started()`` (``TaskStatus[int]``), at run time
and for type checkers. ``TASK_STATUS_IGNORED`` is the conventional default, so that one function
serves both ``start_soon(fn)`` (nobody waits) and ``await start(fn)``, as in Trio and AnyIO:

    async def serve(port: int, *, task_status: TaskStatus[int] = TASK_STATUS_IGNORED) -> None:
"""

from __future__ import annotations

from typing import Any, Final, Generic, TypeVar, overload

__all__ = ["TASK_STATUS_IGNORED", "TaskStatus"]

_T = TypeVar("_T")


class TaskStatus(Generic[_T]):
    """What ``nursery.start()`` passes to the child as ``task_status``.

    The child calls ``task_status.started(value)`` once it is ready; ``start()`` then returns
    ``value``. Calling it twice raises RuntimeError. This base class is the type to annotate with;
    ``nursery.start()`` passes a subclass, and ``TASK_STATUS_IGNORED`` is one whose ``started()``
    does nothing.
    """

    __slots__ = ()

    @overload
    def started(self: TaskStatus[None]) -> None: ...

    @overload
    def started(self, value: _T) -> None: ...

    def started(self, value: Any = None) -> None:
        raise NotImplementedError  # every real TaskStatus is a subclass


class _TaskStatusIgnored(TaskStatus[Any]):
    """The default ``task_status``: for a child started with ``start_soon``, nobody is waiting."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "TASK_STATUS_IGNORED"

    def started(self, value: Any = None) -> None:
        pass  # nobody waits for this child: ignoring is the point


TASK_STATUS_IGNORED: Final[TaskStatus[Any]] = _TaskStatusIgnored()
