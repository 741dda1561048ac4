"""What the evaluation resolvers share: the runtime's snapshot cache."""

from __future__ import annotations

from sliceboard.schema.context import Info
from sliceboard.services.evaluation import cache as evaluation_cache


def snapshot_cache(info: Info) -> evaluation_cache.SnapshotCache:
    return info.context.runtime.snapshot_cache
