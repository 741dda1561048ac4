"""Read sessions for resolvers: each connection or count opens its own short session, because
sibling resolvers run concurrently and an AsyncSession must not be shared between tasks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from sliceboard.schema.context import Info

T = TypeVar("T")


async def read(info: Info, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async with info.context.runtime.reading() as session:
        return await work(session)


def deferred(
    info: Info, work: Callable[[AsyncSession], Awaitable[T]]
) -> Callable[[], Awaitable[T]]:
    """``work`` run later in a session of its own (a connection's totalCount, only when selected)."""

    async def run() -> T:
        return await read(info, work)

    return run
