"""Give the event loop a turn during long executions (issue 11 §2).

A DataLoader answers a key it has already loaded with a finished future, and awaiting a
finished future never suspends; graphql-core also completes every element of a list as a task
of its own. A document that revisits rows (``annotations -> item -> annotations``) kept tens of
thousands of tasks ready at once and /healthz, SIGTERM and the request's time budget waited
behind all of them for seconds. So once an operation has held the loop for ``HOLD_SECONDS``,
its async fields close a gate: every task of the operation that resumes waits on it (a cheap
suspension), and the gate opens on a timer, after the loop has polled its sockets and signals.
Synchronous fields pass through untouched.
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
        self.since = time.perf_counter()
        self.gate: asyncio.Future[None] | None = None

    def resolve(
        self, _next: Callable[..., Any], root: Any, info: Any, *args: Any, **kwargs: Any
    ) -> Any:
        result = _next(root, info, *args, **kwargs)
        if inspect.isawaitable(result):
            return self._then_yield(result)
        return result

    async def _then_yield(self, result: Awaitable[Any]) -> Any:
        value = await result
        while self.gate is not None and not self.gate.done():
            await asyncio.shield(self.gate)
        if time.perf_counter() - self.since > HOLD_SECONDS:
            loop = asyncio.get_running_loop()
            gate = self.gate = loop.create_future()
            loop.call_later(PAUSE_SECONDS, self._open, gate)
            await asyncio.shield(gate)
        return value

    def _open(self, gate: asyncio.Future[None]) -> None:
        if not gate.done():
            gate.set_result(None)
        self.since = time.perf_counter()
