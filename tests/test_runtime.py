"""A Runtime's in-process wake-up signals, and the unit of work it opens for the GraphQL layer."""

from __future__ import annotations

import asyncio

import pytest

from sliceboard.runtime import Notifier, Runtime
from sliceboard.services import catalog, reads


async def test_notifier_wakes_waiters_and_forgets_keys_nobody_waits_on() -> None:
    notifier = Notifier()
    waiter = asyncio.create_task(notifier.wait("k", timeout=5))
    await asyncio.sleep(0)
    notifier.notify("k")
    assert await waiter is True
    assert await notifier.wait("other", timeout=0.01) is False
    assert notifier._events == {} and notifier._waiters == {}


async def test_unit_of_work_commits_what_succeeds_and_rolls_back_what_raises(
    runtime: Runtime,
) -> None:
    async with runtime.unit_of_work() as session:
        await catalog.create_dataset(session, name="kept", metadata=None)
    with pytest.raises(RuntimeError):
        async with runtime.unit_of_work() as session:
            await catalog.create_dataset(session, name="dropped", metadata=None)
            raise RuntimeError("fails after the write")
    async with runtime.reading() as session:
        assert await reads.dataset_by_name(session, name="kept") is not None
        assert await reads.dataset_by_name(session, name="dropped") is None
