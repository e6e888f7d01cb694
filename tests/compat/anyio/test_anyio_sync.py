"""Events, locks, semaphores, conditions and capacity limiters on the treadle backend."""

from __future__ import annotations

import anyio
import anyio.lowlevel
import pytest

pytestmark = pytest.mark.anyio


async def test_event_wakes_every_waiter() -> None:
    event = anyio.Event()
    woken: list[int] = []

    async def waiter(n: int) -> None:
        await event.wait()
        woken.append(n)

    async with anyio.create_task_group() as tg:
        for n in range(3):
            tg.start_soon(waiter, n)
        await anyio.wait_all_tasks_blocked()
        assert event.statistics().tasks_waiting == 3
        event.set()
    assert sorted(woken) == [0, 1, 2]


async def test_event_set_just_before_cancel_still_wakes_the_waiter() -> None:
    event = anyio.Event()
    woke = False

    async def setter() -> None:
        event.set()
        tg.cancel_scope.cancel()

    async with anyio.create_task_group() as tg:
        tg.start_soon(setter)
        await event.wait()
        woke = True
    assert woke


async def test_lock_is_fifo_and_owned() -> None:
    lock = anyio.Lock()
    order: list[int] = []

    async def worker(n: int) -> None:
        async with lock:
            order.append(n)
            await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as tg, lock:
        for n in range(4):
            tg.start_soon(worker, n)
        await anyio.wait_all_tasks_blocked()
    assert order == [0, 1, 2, 3]
    with pytest.raises(RuntimeError, match="not holding this lock"):
        lock.release()


async def test_semaphore_bounds_concurrency() -> None:
    semaphore = anyio.Semaphore(2)
    running = peak = 0

    async def worker() -> None:
        nonlocal running, peak
        async with semaphore:
            running += 1
            peak = max(peak, running)
            await anyio.sleep(0.01)
            running -= 1

    async with anyio.create_task_group() as tg:
        for _ in range(6):
            tg.start_soon(worker)
    assert peak == 2


async def test_condition_notify() -> None:
    condition = anyio.Condition()
    got: list[str] = []

    async def waiter() -> None:
        async with condition:
            await condition.wait()
            got.append("woken")

    async with anyio.create_task_group() as tg:
        tg.start_soon(waiter)
        await anyio.wait_all_tasks_blocked()
        async with condition:
            condition.notify()
    assert got == ["woken"]


async def test_capacity_limiter_hands_tokens_over_in_order() -> None:
    limiter = anyio.CapacityLimiter(1)
    order: list[int] = []

    async def worker(n: int) -> None:
        async with limiter:
            order.append(n)
            await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as tg:
        for n in range(3):
            tg.start_soon(worker, n)
    assert order == [0, 1, 2]
    assert limiter.statistics().borrowed_tokens == 0


async def test_cancelled_limiter_waiter_does_not_take_a_token() -> None:
    limiter = anyio.CapacityLimiter(1)
    async with limiter:
        with anyio.move_on_after(0.01):
            await limiter.acquire_on_behalf_of(object())
    assert limiter.available_tokens == 1


async def test_memory_stream_item_is_not_lost_when_receiver_is_cancelled() -> None:
    send, receive = anyio.create_memory_object_stream[str]()
    received: list[str] = []

    async def receiver(*, task_status: anyio.abc.TaskStatus[anyio.CancelScope]) -> None:
        with anyio.CancelScope() as scope:
            task_status.started(scope)
            received.append(await receive.receive())

    with send, receive:
        async with anyio.create_task_group() as tg:
            scope = await tg.start(receiver)
            await anyio.wait_all_tasks_blocked()
            send.send_nowait("hello")
            scope.cancel()
    assert received == ["hello"]
