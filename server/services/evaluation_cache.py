"""The visible evaluation of a run, loaded once per process: snapshots by evaluation id (an
evaluation never changes once written, so nothing here goes stale), and the item and label
masks every answer over it starts from."""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np
import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from server.errors import FailedPrecondition, InvalidInput, Issue
from server.evaluation import EvaluationInputError
from server.services.evaluation_snapshot import Snapshot
from server.services.ordered_compute import OrderedCompute
from server.services.per_engine import per_engine
from server.services.slices import resolve_item_ids
from server.storage.reads import dataset_versions
from server.storage.tables import Evaluation, ModelRun, core

EVALUATION = core(Evaluation)
K = TypeVar("K")
V = TypeVar("V")


class _Lru(Generic[K, V]):
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)


@dataclass(frozen=True)
class Selection:
    """Items of a snapshot chosen by a filter: a mask over ``Snapshot.item_ids`` and its digest."""

    mask: np.ndarray
    digest: str


class SnapshotCache:
    """Loaded snapshots by evaluation id (immutable, so never stale), and reports computed from
    them; least recently used out."""

    def __init__(self, capacity: int = 4, reports: int = 256) -> None:
        self.capacity = capacity
        self._items: OrderedDict[int, Snapshot] = OrderedDict()
        self._lock = asyncio.Lock()
        self.reports: _Lru[tuple[Any, ...], Any] = _Lru(reports)
        self.selections: _Lru[tuple[Any, ...], Selection] = _Lru(reports)
        #: Reports are computed here one at a time, in the order they were asked for.
        self.compute = OrderedCompute("slice-metrics")

    async def get(self, session: AsyncSession, evaluation_id: int) -> Snapshot:
        async with self._lock:
            cached = self._items.get(evaluation_id)
            if cached is not None:
                self._items.move_to_end(evaluation_id)
                return cached
            blob = (
                await session.execute(
                    sa.select(EVALUATION.c.snapshot).where(EVALUATION.c.id == evaluation_id)
                )
            ).scalar()
            if blob is None:
                raise FailedPrecondition("the evaluation has no stored results")
            snapshot = await asyncio.to_thread(_load, blob)
            self._items[evaluation_id] = snapshot
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
            return snapshot


def _load(blob: bytes) -> Snapshot:
    """Decodes a snapshot and builds the table's slice indexes now, off the event loop, so the
    first slice query does not pay for them."""
    snapshot = Snapshot.from_bytes(blob)
    table = snapshot.table
    for index in (
        "dt_index",
        "gt_index",
        "dt_metric_position",
        "metric_label",
        "metric_rank",
        "metric_state",
    ):
        getattr(table, index)
    return snapshot


#: The process's snapshot cache for one database.
snapshot_cache_for = per_engine(SnapshotCache)


async def visible_snapshot(
    session: AsyncSession, cache: SnapshotCache, run: ModelRun
) -> tuple[int, Snapshot]:
    if run.current_evaluation_id is None:
        raise FailedPrecondition(
            "the model run has no completed evaluation; call calculateEvaluationMetrics first"
        )
    return run.current_evaluation_id, await cache.get(session, run.current_evaluation_id)


async def selected_items(
    session: AsyncSession,
    snapshot: Snapshot,
    run: ModelRun,
    filter: dict[str, Any] | None,
    slice_id: str | None,
    *,
    cache: SnapshotCache,
    evaluation_id: int,
) -> Selection | None:
    """The snapshot's items that a filter and/or saved slice select; None for all of them.

    A filter can test item metadata, ground truth and the run's predictions, so its answer is
    kept per (items, annotations, run data) versions: a dashboard asking again costs one small
    query for the versions instead of the filter's.
    """
    if not filter and slice_id is None:
        return None
    versions = await dataset_versions(session=session, dataset_id=run.dataset_id)
    key = (
        evaluation_id,
        run.dataset_id,
        versions,
        run.data_version,
        orjson.dumps(filter, option=orjson.OPT_SORT_KEYS) if filter else None,
        slice_id,
    )
    found = cache.selections.get(key)
    if found is None:
        ids = await resolve_item_ids(
            session,
            dataset_id=run.dataset_id,
            filter=filter,
            slice_id=slice_id,
            model_run_id=run.id,
        )
        mask = np.isin(snapshot.item_ids, np.asarray(ids, dtype=np.int64))
        found = Selection(mask, hashlib.blake2b(np.packbits(mask).tobytes()).hexdigest())
        cache.selections.put(key, found)
    return found


def selected_labels(snapshot: Snapshot, labels: list[str] | None) -> np.ndarray | None:
    if labels is None:
        return None
    wanted = set(labels)
    return np.array([name in wanted for name in snapshot.label_names], dtype=bool)


def check_threshold(snapshot: Snapshot, iou_threshold: float, path: str) -> None:
    try:
        snapshot.table.row_index(iou_threshold, 0)
    except EvaluationInputError as exc:
        raise InvalidInput([Issue(path, str(exc))]) from exc
