"""task_tree(): the live tree of tasks, nurseries and cancel scopes, and its text rendering.

Nursery children are placed under their nursery, and each nursery under the task whose body opened
it. Plain asyncio tasks go under the task that created them when the loop tracks creators
(:func:`track_task_creators`), else at the top level.
Tracking is opt-in because it puts a task factory on the loop: one Python call per create_task.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from types import CodeType, CoroutineType
from typing import Any, TypeVar

from ._cancel import CancelScope, effective_cancel
from ._nursery import Nursery
from ._tasks import states

_F = TypeVar("_F", bound=Callable[..., Any])

# Code objects of coroutines that only wrap another (see hidden_from_task_tree).
_WRAPPERS: set[CodeType] = set()

# Stored on the task itself (asyncio's Task, C or Python, takes attributes): cheaper than a weak
# mapping, and it goes away with the task. The child keeps its creator alive, a small cost.
_CREATOR = "_treadle_creator"


def track_task_creators(loop: asyncio.AbstractEventLoop) -> None:
    """Remember, for each task created on ``loop`` from now on, which task created it."""
    previous = loop.get_task_factory()

    def factory(ev_loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> Any:
        task: Any
        if previous is None:
            task = asyncio.Task(coro, loop=ev_loop, **kwargs)
        else:
            task = previous(ev_loop, coro, **kwargs)
        setattr(task, _CREATOR, asyncio.current_task(ev_loop))
        return task

    loop.set_task_factory(factory)


@dataclass
class ScopeInfo:
    """One open cancel scope of a task, innermost last."""

    deadline: float
    cancel_called: bool
    shield: bool


@dataclass
class TaskNode:
    """A task in the tree: what it is, where it waits, and what can cancel it."""

    task: asyncio.Task[Any]
    name: str
    state: str  # "running", "ready", "waiting" or "done"
    where: str  # function:line where the task is suspended, or "" when unknown
    scopes: list[ScopeInfo]
    effectively_cancelled: bool
    nurseries: list[NurseryNode] = field(default_factory=list)
    tasks: list[TaskNode] = field(default_factory=list)  # plain tasks it created


@dataclass
class NurseryNode:
    nursery: Nursery
    children: list[TaskNode] = field(default_factory=list)


@dataclass
class TaskTree:
    """The roots (tasks with no known parent) of the loop's task tree."""

    roots: list[TaskNode]

    def render(self) -> str:
        lines: list[str] = []
        for root in self.roots:
            _render_task(root, "", lines)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()


def task_tree(loop: asyncio.AbstractEventLoop | None = None) -> TaskTree:
    """A snapshot of every live task on ``loop`` (default: the running one), as a tree."""
    if loop is None:
        loop = asyncio.get_running_loop()
    tasks = sorted(asyncio.all_tasks(loop), key=_creation_order)
    nodes = {task: _node(task, loop) for task in tasks}
    nursery_nodes: dict[Nursery, NurseryNode] = {}
    roots: list[TaskNode] = []
    for task in tasks:
        node = nodes[task]
        state = states.get(task)
        nursery = state.nursery if state is not None else None
        if nursery is not None:
            nursery_node = nursery_nodes.get(nursery)
            if nursery_node is None:
                nursery_node = nursery_nodes[nursery] = NurseryNode(nursery)
                parent_node = nodes.get(nursery.parent_task)
                (parent_node.nurseries if parent_node else []).append(nursery_node)
            nursery_node.children.append(node)
            continue
        creator = getattr(task, _CREATOR, None)
        if creator is not None and creator in nodes:
            nodes[creator].tasks.append(node)
        else:
            roots.append(node)
    return TaskTree(roots)


def _creation_order(task: asyncio.Task[Any]) -> int:
    return id(task) if not task.get_name().startswith("Task-") else _number(task.get_name())


def _number(name: str) -> int:
    tail = name.removeprefix("Task-")
    return int(tail) if tail.isdigit() else 0


def _node(task: asyncio.Task[Any], loop: asyncio.AbstractEventLoop) -> TaskNode:
    state = states.get(task)
    scopes: list[ScopeInfo] = []
    scope: CancelScope | None = state.scope if state is not None else None
    innermost = scope
    root = state.nursery._scope if state is not None and state.nursery is not None else None
    while scope is not None and scope is not root:
        scopes.append(ScopeInfo(scope._deadline, scope._cancel_called, scope._shield))
        scope = scope._parent
    scopes.reverse()
    return TaskNode(
        task=task,
        name=task.get_name(),
        state=_task_state(task, loop),
        where=_where(task),
        scopes=scopes,
        effectively_cancelled=effective_cancel(innermost) is not None,
    )


def _task_state(task: asyncio.Task[Any], loop: asyncio.AbstractEventLoop) -> str:
    if task.done():
        return "done"
    if asyncio.current_task(loop) is task:
        return "running"
    if task._fut_waiter is None:  # type: ignore[attr-defined]  # asyncio.Task's, not typeshed's
        return "ready"
    return "waiting"


def hidden_from_task_tree(fn: _F) -> _F:
    """Mark an ``async def`` that only wraps the coroutine it awaits (run()'s root scope).

    For a task whose coroutine is such a wrapper, task_tree() reports where the wrapped
    coroutine waits: the user's ``main``, not treadle's frame around it.
    """
    _WRAPPERS.add(fn.__code__)
    return fn


def _where(task: asyncio.Task[Any]) -> str:
    coro: object = task.get_coro()
    if isinstance(coro, CoroutineType) and coro.cr_code in _WRAPPERS:
        while isinstance(coro, CoroutineType) and coro.cr_code in _WRAPPERS:
            coro = coro.cr_await
        frame = coro.cr_frame if isinstance(coro, CoroutineType) else None
    else:
        frames = task.get_stack()
        frame = frames[-1] if frames else None
    if frame is None:
        return ""
    return f"{frame.f_code.co_name}:{frame.f_lineno}"


def _describe_scopes(node: TaskNode) -> str:
    parts = []
    for info in node.scopes:
        bits = []
        if info.deadline != math.inf:
            bits.append(f"deadline={info.deadline:g}")
        if info.cancel_called:
            bits.append("cancelled")
        if info.shield:
            bits.append("shield")
        parts.append("scope(" + ", ".join(bits) + ")")
    return " ".join(parts)


def _render_task(node: TaskNode, indent: str, lines: list[str]) -> None:
    text = f"{indent}task {node.name!r} [{node.state}]"
    if node.where:
        text += f" at {node.where}"
    scopes = _describe_scopes(node)
    if scopes:
        text += " " + scopes
    if node.effectively_cancelled:
        text += " (cancelling)"
    lines.append(text)
    for nursery in node.nurseries:
        scope = nursery.nursery.cancel_scope
        extra = " (cancelled)" if scope.cancel_called else ""
        lines.append(f"{indent}  nursery{extra}")
        for child in nursery.children:
            _render_task(child, indent + "    ", lines)
    for child in node.tasks:
        _render_task(child, indent + "  ", lines)
