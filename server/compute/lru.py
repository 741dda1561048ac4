"""A least-recently-used map of bounded size, for the per-process caches."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Lru(Generic[K, V]):
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> list[K]:
        """Stores ``value``; returns the keys pushed out."""
        self._items[key] = value
        self._items.move_to_end(key)
        evicted = []
        while len(self._items) > self.capacity:
            evicted.append(self._items.popitem(last=False)[0])
        return evicted

    def pop(self, key: K) -> V | None:
        return self._items.pop(key, None)

    def pop_where(self, predicate: Callable[[K], bool]) -> list[V]:
        """Removes every entry whose key ``predicate`` accepts; returns their values."""
        keys = [key for key in self._items if predicate(key)]
        return [self._items.pop(key) for key in keys]

    def size(self) -> int:
        """Entries held (not ``__len__``: an empty cache must stay truthy where code writes
        ``cache or default``)."""
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        """Whether ``key`` is held (not a use: its place in the order stays)."""
        return key in self._items
