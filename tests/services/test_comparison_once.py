"""compareRuns' expensive parts (the paired bootstrap, the regression ranking) run once per key:
requests asking while one computes await the same work, later ones read the snapshot cache,
and a failure is not kept."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from sliceboard.services.comparison import computed_once
from sliceboard.services.evaluation.cache import Derived, SnapshotCache


class HeldCache:
    """The part of SnapshotCache that computed_once uses, every evaluation held."""

    def __init__(self) -> None:
        self.reports: Derived[Any] = Derived(8, lambda evaluation_id: True)


def test_concurrent_requests_share_one_computation_then_read_the_cache() -> None:
    cache = cast(SnapshotCache, HeldCache())
    calls: list[int] = []

    async def scenario() -> list[list[int]]:
        started, release = asyncio.Event(), asyncio.Event()

        async def work() -> list[int]:
            calls.append(1)
            started.set()
            await release.wait()
            return [len(calls)]

        async def releaser() -> list[int]:
            await started.wait()
            release.set()
            return []

        key = (1, "paired bootstrap", 2)
        first, second, _ = await asyncio.gather(
            computed_once(cache, key, list, work), computed_once(cache, key, list, work), releaser()
        )
        third = await computed_once(cache, key, list, work)
        return [first, second, third]

    first, second, third = asyncio.run(scenario())
    assert len(calls) == 1
    assert first == second == third == [1]


def test_a_failed_computation_is_not_kept() -> None:
    cache = cast(SnapshotCache, HeldCache())
    attempts: list[int] = []

    async def scenario() -> str:
        async def work() -> str:
            attempts.append(1)
            if len(attempts) == 1:
                raise RuntimeError("worker died")
            return "answer"

        key = (3, "regressions", 4)
        with pytest.raises(RuntimeError):
            await computed_once(cache, key, str, work)
        return await computed_once(cache, key, str, work)

    assert asyncio.run(scenario()) == "answer"
    assert len(attempts) == 2
