"""The visible evaluation of a run, loaded once per runtime: snapshots by evaluation id (an
evaluation never changes once written, so nothing here goes stale), and the item and label
masks every answer over it starts from."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from sliceboard.compute.lru import Lru
from sliceboard.compute.ranked_thread import RankedThread
from sliceboard.compute.report_process import ReportWorker, SnapshotGone, forget
from sliceboard.compute.shared_arrays import (
    SharedSnapshot,
    attach,
    write_shared,
    write_shared_npz,
)
from sliceboard.errors import FailedPrecondition, InvalidInput, Issue
from sliceboard.evaluation import EvaluationInputError
from sliceboard.services.evaluation.report_parts import PARTS, prepare, run_part
from sliceboard.services.evaluation.snapshot import Snapshot
from sliceboard.services.slices import filter_key, resolve_item_ids
from sliceboard.storage.evaluations import select_snapshot_blob
from sliceboard.storage.reads import dataset_versions
from sliceboard.storage.tables import ModelRun

#: Longest wait for a metric request's turn (``SnapshotCache.admitted``).
ADMISSION_WAIT = 0.05
logger = logging.getLogger(__name__)
V = TypeVar("V")


@dataclass(frozen=True)
class Selection:
    """Items of a snapshot chosen by a filter: a mask over ``Snapshot.item_ids`` and its digest."""

    mask: np.ndarray
    digest: str


class Derived(Lru[tuple[Any, ...], V]):
    """Values computed from one snapshot, keyed ``(evaluation id, ...)``: they leave with their
    snapshot, and none is kept for a snapshot the cache no longer holds.

    Why: a report refers to its snapshot's arrays, and so to the mapping of its shared file.
    Kept past the snapshot's eviction (256 reports for a cache of 4 snapshots), reports kept
    every evaluation's file mapped, deleted, in the server: 31 mappings after 30 evaluations,
    and /dev/shm grew by a snapshot per evaluation until a restart.
    """

    def __init__(self, capacity: int, held: Callable[[int], bool]) -> None:
        super().__init__(capacity)
        self._held = held

    def put(self, key: tuple[Any, ...], value: V) -> list[tuple[Any, ...]]:
        if not self._held(key[0]):  # evicted while the request computed it
            return []
        return super().put(key, value)

    def drop(self, evaluation_id: int) -> None:
        self.pop_where(lambda key: key[0] == evaluation_id)


class DerivedArrays:
    """Arrays computed from one snapshot (browse orders and the walks of filters over them),
    keyed ``(evaluation id, ...)``, least recently used out beyond ``budget`` bytes; they leave
    with their snapshot, like ``Derived``.

    Each is computed once, off the event loop, however many requests ask for it at the same
    time (``get_or_build``).
    """

    def __init__(self, budget: int, held: Callable[[int], bool]) -> None:
        self.budget = budget
        self._held = held
        self._items: OrderedDict[tuple[Any, ...], np.ndarray] = OrderedDict()
        self._building: dict[tuple[Any, ...], asyncio.Future[np.ndarray]] = {}
        #: Bytes held now (for /metrics and tests).
        self.bytes = 0

    def get(self, key: tuple[Any, ...]) -> np.ndarray | None:
        found = self._items.get(key)
        if found is not None:
            self._items.move_to_end(key)
        return found

    def put(self, key: tuple[Any, ...], value: np.ndarray) -> None:
        """Keeps ``value`` unless its snapshot is gone or it alone exceeds the budget."""
        if not self._held(key[0]) or value.nbytes > self.budget:
            return
        old = self._items.pop(key, None)
        if old is not None:
            self.bytes -= old.nbytes
        self._items[key] = value
        self.bytes += value.nbytes
        while self.bytes > self.budget:
            _, evicted = self._items.popitem(last=False)
            self.bytes -= evicted.nbytes

    def drop(self, evaluation_id: int) -> None:
        for key in [k for k in self._items if k[0] == evaluation_id]:
            self.bytes -= self._items.pop(key).nbytes

    def size(self) -> int:
        return len(self._items)

    async def get_or_build(
        self, key: tuple[Any, ...], build: Callable[[], np.ndarray]
    ) -> np.ndarray:
        """The array kept under ``key``, else ``build()`` run on a thread and kept; concurrent
        callers of one key await the same computation (a caller that goes away does not
        cancel it for the others)."""
        found = self.get(key)
        if found is not None:
            return found
        pending = self._building.get(key)
        if pending is None:
            pending = asyncio.ensure_future(asyncio.to_thread(build))
            self._building[key] = pending

            def done(future: asyncio.Future[np.ndarray]) -> None:
                self._building.pop(key, None)
                if not future.cancelled() and future.exception() is None:
                    self.put(key, future.result())

            pending.add_done_callback(done)
        return await asyncio.shield(pending)


class SnapshotCache:
    """Loaded snapshots by evaluation id (immutable, so never stale), and reports computed from
    them; least recently used out.

    With a worker, each snapshot is also handed to it through a shared file, and report parts
    run there (``part``); without one, or when it fails, they run on ``thread`` in this process.
    The Runtime builds one with its own worker and thread (compute/machinery.py).
    """

    def __init__(
        self,
        *,
        worker: ReportWorker | None,
        thread: RankedThread,
        capacity: int = 4,
        reports: int = 256,
        arrays_budget: int = 256 * 2**20,
    ) -> None:
        self._items: Lru[int, Snapshot] = Lru(capacity)
        self._shared: dict[int, SharedSnapshot] = {}
        self._lock = asyncio.Lock()
        self._worker = worker
        self._background: set[asyncio.Future[None]] = set()
        self.reports: Derived[Any] = Derived(reports, self._items.__contains__)
        self.selections: Derived[Selection] = Derived(reports, self._items.__contains__)
        #: Per (evaluation, selection, labels): the report whose COCO summary the reports of
        #: other thresholds share (the summary does not depend on them).
        self.summaries: Derived[Any] = Derived(reports, self._items.__contains__)
        #: Browse orders and filtered walks over them, within ``arrays_budget`` bytes.
        self.arrays = DerivedArrays(arrays_budget, self._items.__contains__)
        self._admission = asyncio.Lock()
        #: Report parts are asked for here one at a time, in the order reports were created.
        self.compute = thread
        #: Lookups answered from memory, and snapshots loaded (for /metrics).
        self.hits = 0
        self.misses = 0
        #: Whether an evaluation this process computes is held (and its whole-run report
        #: computed) as it is stored, so the first query after it is answered from memory; off
        #: in a process that only runs jobs (``sliceboard worker``).
        self.keeps_new_evaluations = True

    def size(self) -> int:
        """Snapshots held (for /metrics)."""
        return self._items.size()

    async def get(self, session: AsyncSession, evaluation_id: int) -> Snapshot:
        async with self._lock:
            cached = self._items.get(evaluation_id)
            if cached is not None:
                self.hits += 1
                return cached
            self.misses += 1
            blob = await select_snapshot_blob(session=session, evaluation_id=evaluation_id)
            if blob is None:
                raise FailedPrecondition("the evaluation has no stored results")
            return await self._load(evaluation_id, blob)

    async def adopt(self, evaluation_id: int, blob: bytes) -> Snapshot:
        """Holds an evaluation this process just computed, from its blob (no database read);
        a lookup meanwhile waits for it instead of loading it again."""
        async with self._lock:
            cached = self._items.get(evaluation_id)
            if cached is not None:
                return cached
            self.misses += 1
            return await self._load(evaluation_id, blob)

    def start_worker(self) -> None:
        """Starts the report worker now (it imports its modules while an evaluation runs),
        rather than on the first report."""
        if self._worker is not None:
            with contextlib.suppress(Exception):  # the first report starts it (or computes here)
                self._worker.start()

    async def _load(self, evaluation_id: int, blob: bytes) -> Snapshot:
        snapshot, shared = await asyncio.to_thread(_load, blob, self._worker is not None)
        if shared is not None and await self._hand_over(shared):
            self._shared[evaluation_id] = shared
        for evicted in self._items.put(evaluation_id, snapshot):
            self._evict(evicted)
        return snapshot

    def _evict(self, evaluation_id: int) -> None:
        """Lets go of everything that refers to an evicted snapshot, so its arrays (and their
        file's mapping) are freed here, and has the worker unmap it too."""
        self.reports.drop(evaluation_id)
        self.selections.drop(evaluation_id)
        self.summaries.drop(evaluation_id)
        self.arrays.drop(evaluation_id)
        gone = self._shared.pop(evaluation_id, None)
        if gone is not None and self._worker is not None:
            self._forget(gone)

    async def _hand_over(self, shared: SharedSnapshot) -> bool:
        """Has the worker map the snapshot and build its indexes; then the file's name goes."""
        assert self._worker is not None
        try:
            await self._worker.call(-1, prepare, shared)
            return True
        except Exception:
            logger.warning("report worker unavailable; slice reports run in-process", exc_info=True)
            return False
        finally:
            os.unlink(shared.path)

    def _forget(self, shared: SharedSnapshot) -> None:
        worker = self._worker
        assert worker is not None

        async def forget_it() -> None:
            with contextlib.suppress(Exception):  # the worker's own LRU bounds it anyway
                await worker.call(-1, forget, shared)

        task = asyncio.ensure_future(forget_it())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    @contextlib.asynccontextmanager
    async def admitted(self) -> AsyncIterator[None]:
        """Metric requests resolve their items and report one at a time, in arrival order, but
        none waits more than ``ADMISSION_WAIT`` seconds (a slow filter must not hold up the
        others). Interleaved on the event loop, eight cold requests each finished only after
        all eight had run their SQL; in turn, the first is ready after its own."""
        try:
            await asyncio.wait_for(self._admission.acquire(), ADMISSION_WAIT)
        except TimeoutError:
            yield
            return
        try:
            yield
        finally:
            self._admission.release()

    def shared(self, evaluation_id: int) -> SharedSnapshot | None:
        return self._shared.get(evaluation_id)

    async def part(
        self,
        rank: int,
        snapshot: Snapshot,
        shared: SharedSnapshot | None,
        part: str,
        args: tuple[Any, ...],
    ) -> Any:
        """A report part, in the worker when it holds the snapshot, else on this process's
        compute thread; ``rank`` orders parts of different reports."""
        if shared is not None and self._worker is not None:
            try:
                return await self._worker.call(rank, run_part, shared, part, args)
            except SnapshotGone:
                pass
            except Exception:  # a broken worker, or the part's own error: this process decides
                logger.warning("report worker failed; computing in-process", exc_info=True)
        local = self.compute.submit(rank, lambda: PARTS[part](snapshot, *args))
        return await asyncio.wrap_future(local)


def _load(blob: bytes, share: bool) -> tuple[Snapshot, SharedSnapshot | None]:
    """Decodes a snapshot off the event loop. Shared: the blob is inflated straight into the
    shared file, which this process maps too (so the arrays exist once, and no decoded copy
    is made first), and this process builds only the indexes its own answers read; otherwise
    it also builds the metric indexes now, so the first slice query does not pay for them."""
    snapshot: Snapshot | None = None
    shared = None
    if share:
        try:
            try:
                shared = write_shared_npz(blob)
            except ValueError:  # an entry that cannot be placed as it is: decode it first
                snapshot = Snapshot.from_bytes(blob)
                shared = write_shared(snapshot.to_arrays())
            snapshot = Snapshot.from_arrays(attach(shared))
        except OSError:
            logger.warning("could not share a snapshot with the report worker", exc_info=True)
            if shared is not None:
                os.unlink(shared.path)
            shared = None
    if snapshot is None:
        snapshot = Snapshot.from_bytes(blob)
    own = ("dt_index", "gt_index")
    metric = ("dt_metric_position", "metric_label", "metric_rank", "metric_state")
    for index in own if shared is not None else own + metric:
        getattr(snapshot.table, index)
    return snapshot, shared


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
        filter_key(filter),
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
