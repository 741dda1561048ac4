"""The in-process wake-up signals of a Runtime."""

from __future__ import annotations

import asyncio

from sliceboard.runtime import Notifier


async def test_notifier_wakes_waiters_and_forgets_keys_nobody_waits_on() -> None:
    notifier = Notifier()
    waiter = asyncio.create_task(notifier.wait("k", timeout=5))
    await asyncio.sleep(0)
    notifier.notify("k")
    assert await waiter is True
    assert await notifier.wait("other", timeout=0.01) is False
    assert notifier._events == {} and notifier._waiters == {}
