"""Random chains of nested cancel scopes (deadlines, shields, cancel() calls) against a model.

The model: a scope's cancellation time is min(deadline, time cancel() is called). Walking from the
innermost scope outwards up to and including the first shielded one, the body is cancelled at the
earliest such time T; it ends at min(sleep, T); the outermost scope of that walk cancelled by T is
the one that catches (Trio's rule), and no other scope reports cancelled_caught.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from treadle.core import new_event_loop
from treadle.structured import CancelScope, MockClock


@dataclass
class ScopeSpec:
    deadline: float  # inf for none
    cancel_at: float  # inf for never
    shield: bool


scope_specs = st.builds(
    ScopeSpec,
    deadline=st.one_of(st.just(math.inf), st.integers(1, 6).map(float)),
    cancel_at=st.one_of(st.just(math.inf), st.integers(0, 6).map(float)),
    shield=st.booleans(),
)


def model(specs: list[ScopeSpec], sleep_for: float) -> tuple[float, list[bool]]:
    visible: list[int] = []
    for index in reversed(range(len(specs))):
        visible.append(index)
        if specs[index].shield:
            break
    when = {i: min(specs[i].deadline, specs[i].cancel_at) for i in visible}
    cancelled_at = min(when.values(), default=math.inf)
    end = min(sleep_for, cancelled_at)
    caught = [False] * len(specs)
    if cancelled_at < sleep_for:
        catcher = min(i for i in visible if when[i] <= cancelled_at)
        caught[catcher] = True
    return end, caught


async def nest(specs: list[ScopeSpec], scopes: list[CancelScope], sleep_for: float) -> None:
    if not specs:
        await asyncio.sleep(sleep_for)  # plain asyncio code as the body
        return
    spec = specs[0]
    with CancelScope(deadline=spec.deadline, shield=spec.shield) as scope:
        scopes.append(scope)
        if spec.cancel_at != math.inf:
            asyncio.get_running_loop().call_at(spec.cancel_at, scope.cancel)
        await nest(specs[1:], scopes, sleep_for)


@settings(max_examples=150, deadline=None)
@given(specs=st.lists(scope_specs, min_size=1, max_size=5), sleep_for=st.integers(0, 7))
def test_nested_scopes_match_model(specs: list[ScopeSpec], sleep_for: int) -> None:
    duration = sleep_for + 0.5  # never ties with a deadline
    loop = new_event_loop(clock=MockClock(autojump_threshold=0))

    async def main() -> tuple[float, list[bool], int]:
        scopes: list[CancelScope] = []
        await nest(specs, scopes, duration)
        end = loop.time()
        task = asyncio.current_task()
        assert task is not None
        return end, [scope.cancelled_caught for scope in scopes], task.cancelling()

    try:
        end, caught, cancelling = loop.run_until_complete(main())
        loop.run_until_complete(asyncio.sleep(10))  # leftover cancel() timers fire harmlessly
    finally:
        loop.close()
    assert (end, caught) == model(specs, duration)
    assert cancelling == 0
