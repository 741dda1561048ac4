"""What the evaluation resolvers share: optional arguments, and the process's snapshot cache."""

from __future__ import annotations

import strawberry

from sliceboard.schema.context import Info
from sliceboard.services.evaluation import cache as evaluation_cache


def given(value: object) -> bool:
    """Whether an optional argument or input field was given a value (not null, not unset)."""
    return value is not None and value is not strawberry.UNSET


def snapshot_cache(info: Info) -> evaluation_cache.SnapshotCache:
    return evaluation_cache.snapshot_cache_for(info.context.runtime.engine)
