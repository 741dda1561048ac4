"""What the evaluation resolvers share: the process's snapshot cache."""

from __future__ import annotations

from sliceboard.schema.context import Info
from sliceboard.services.evaluation import cache as evaluation_cache


def snapshot_cache(info: Info) -> evaluation_cache.SnapshotCache:
    return evaluation_cache.snapshot_cache_for(info.context.runtime.engine)
