"""Give the event loop a turn during long executions (issue 11 §2).

A DataLoader answers a key it has already loaded with a finished future, and awaiting a
finished future never suspends; graphql-core also completes every element of a list as a task
of its own. A document that revisits rows (``annotations -> item -> annotations``) kept tens of
thousands of tasks ready at once and /healthz, SIGTERM and the request's time budget waited
behind all of them for seconds. So once an operation has held the loop for ``HOLD_SECONDS``,
it closes a gate: every field of the operation that resolves meanwhile waits on it — async
ones as they resume, synchronous ones as they return (a page that read its items' annotations
ahead answers them synchronously, and a document can ask for 50,000 of those at once) — and the
gate opens on a timer, after the loop has polled its sockets and signals.

The hold is counted from the loop's last turn, not from the operation's start: ``_held_too_long``
asks the loop for a turn (``call_soon``) and counts from then. Time spent waiting on the
database is not holding the loop, and a page that merely waited should not pay for the gate.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any

from strawberry.extensions import SchemaExtension

HOLD_SECONDS = 0.02
PAUSE_SECONDS = 0.001


class YieldToLoop(SchemaExtension):
    def __init__(self) -> None:
        self.mark = 0.0
        self.ticking = False
        self.gate: asyncio.Future[None] | None = None

    def resolve(
        self, _next: Callable[..., Any], root: Any, info: Any, *args: Any, **kwargs: Any
    ) -> Any:
        result = _next(root, info, *args, **kwargs)
        if inspect.isawaitable(result):
            return self._then_yield(result)
        if self._closed():
            return self._after_gate(result)
        return result

    def _held_too_long(self) -> bool:
        """Has the loop gone ``HOLD_SECONDS`` without a turn while this operation ran?"""
        now = time.perf_counter()
        if not self.ticking:
            self.ticking = True
            self.mark = now
            asyncio.get_running_loop().call_soon(self._tick)
            return False
        return now - self.mark > HOLD_SECONDS

    def _tick(self) -> None:
        self.ticking = False  # the loop had its turn

    def _closed(self) -> bool:
        """Is the gate closed (closing it when the operation has held the loop too long)?"""
        if self.gate is not None and not self.gate.done():
            return True
        if not self._held_too_long():
            return False
        loop = asyncio.get_running_loop()
        gate = self.gate = loop.create_future()
        loop.call_later(PAUSE_SECONDS, self._open, gate)
        return True

    def _open(self, gate: asyncio.Future[None]) -> None:
        if not gate.done():
            gate.set_result(None)
        self.ticking = False

    async def _wait(self) -> None:
        while self._closed():
            assert self.gate is not None
            await asyncio.shield(self.gate)

    async def _then_yield(self, result: Awaitable[Any]) -> Any:
        value = await result
        await self._wait()
        return value

    async def _after_gate(self, value: Any) -> Any:
        await self._wait()
        return value
