"""One in-process cache per database: keyed weakly by the engine, so a cache lives exactly as
long as the Runtime that owns the engine (tests build many; a server builds one)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy.ext.asyncio import AsyncEngine

T = TypeVar("T")


def per_engine(factory: Callable[[], T]) -> Callable[[AsyncEngine], T]:
    """A getter that builds ``factory()`` on first use for each engine and keeps it."""
    caches: WeakKeyDictionary[AsyncEngine, T] = WeakKeyDictionary()

    def get(engine: AsyncEngine) -> T:
        cache = caches.get(engine)
        if cache is None:
            cache = caches[engine] = factory()
        return cache

    return get
