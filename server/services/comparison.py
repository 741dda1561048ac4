"""Comparing 2 to 8 runs of one dataset from their stored evaluations (DESIGN.md §10).

Nothing is re-matched: each run's numbers are its own slice report (``results.metrics_report``,
so a delta is exactly the difference of the two runs' ``metrics``), object transitions come
from the snapshots' ground-truth matches, and intervals from the paired bootstrap over items
(``comparison_bootstrap``). Every part is computed when first asked for and kept with the
comparison; the expensive ones (run statistics, the paired bootstrap, transitions, per-label
AP75, the regression ranking) are also kept in the snapshot cache, keyed by the evaluations
and the options, and computed once for every request that asks while they run
(:func:`computed_once`), off the event loop.
"""

from __future__ import annotations

import asyncio
import math
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from sliceboard.errors import FailedPrecondition, InvalidInput, Issue, NotFound
from sliceboard.evaluation.bootstrap import RunStatistics, run_statistics
from sliceboard.evaluation.transitions import (
    BROKEN,
    FIXED,
    STILL_FOUND,
    STILL_MISSED,
    GroundTruthTransitions,
    align_ground_truth,
    ground_truth_outcome,
)
from sliceboard.services import reads
from sliceboard.services.comparison_bootstrap import (
    DeltaIntervals,
    Interval,
    label_points,
    paired_intervals,
)
from sliceboard.services.comparison_false_positives import (
    FalsePositiveChange,
    false_positive_change,
)
from sliceboard.services.evaluation import lifecycle, results
from sliceboard.services.evaluation.cache import SnapshotCache, selected_items
from sliceboard.services.evaluation.options import EvaluationOptions
from sliceboard.services.evaluation.snapshot import Snapshot
from sliceboard.services.ids import require_id
from sliceboard.storage.comparison_reads import select_run_label_annotations
from sliceboard.storage.tables import ModelRun

MIN_RUNS, MAX_RUNS = 2, 8
METRICS = ("ap", "ap50", "ap75", "precision", "recall", "f1")
GROUND_TRUTH_KINDS = (FIXED, BROKEN, STILL_MISSED, STILL_FOUND)
NEW_FALSE_POSITIVE, REMOVED_FALSE_POSITIVE = "NEW_FALSE_POSITIVE", "REMOVED_FALSE_POSITIVE"
#: Option names as ``Evaluation.options`` shows them (the contract's names).
OPTION_NAMES = (
    "matching",
    "classAgnostic",
    "allowedLabelMatches",
    "iouThresholds",
    "maxDetections",
    "emptyClasses",
)
T = TypeVar("T")


@dataclass(frozen=True)
class BootstrapSettings:
    resamples: int
    seed: int
    level: float


@dataclass
class ComparedRun:
    """One run's visible evaluation and its slice report under the comparison's arguments."""

    run: ModelRun
    evaluation_id: int
    snapshot: Snapshot
    is_stale: bool
    mask: np.ndarray | None
    report: results.Report


@dataclass(frozen=True)
class Delta:
    baseline: float | None
    candidate: float | None
    delta: float | None
    interval: Interval | None = None


@dataclass(frozen=True)
class LabelCounts:
    true_positives: int
    false_positives: int
    false_negatives: int


@dataclass(frozen=True)
class LabelDelta:
    label: str
    metrics: dict[str, Delta]
    baseline: LabelCounts | None
    candidate: LabelCounts | None


def _delta(baseline: float | None, candidate: float | None) -> float | None:
    if baseline is None or candidate is None:
        return None
    return candidate - baseline


def _defined(value: float) -> float | None:
    return None if (math.isnan(value) or value < 0) else float(value)


_IN_FLIGHT: weakref.WeakKeyDictionary[SnapshotCache, dict[Any, asyncio.Future[Any]]] = (
    weakref.WeakKeyDictionary()
)


async def computed_once(
    cache: SnapshotCache, key: tuple[Any, ...], kind: type[T], work: Callable[[], Awaitable[T]]
) -> T:
    """The value kept in the snapshot cache under ``key``; else ``work`` runs once for every
    request that asks while it runs (they await the same future), and its value is kept."""
    found = cache.reports.get(key)
    if isinstance(found, kind):
        return found
    flights = _IN_FLIGHT.setdefault(cache, {})
    loop = asyncio.get_running_loop()
    future = flights.get(key)
    if future is None or future.get_loop() is not loop:
        holder: list[asyncio.Future[Any]] = []

        async def run() -> T:
            try:
                value = await work()
                cache.reports.put(key, value)
                return value
            finally:
                if holder and flights.get(key) is holder[0]:
                    del flights[key]

        future = asyncio.ensure_future(run())
        holder.append(future)
        flights[key] = future
    value: T = await asyncio.shield(future)
    return value


class Once:
    """An awaitable computed at most once, shared by every resolver that asks for it."""

    def __init__(self, work: Callable[[], Awaitable[Any]]) -> None:
        self._work = work
        self._future: asyncio.Future[Any] | None = None

    async def get(self) -> Any:
        if self._future is None:
            self._future = asyncio.ensure_future(self._work())
        return await asyncio.shield(self._future)


@dataclass
class RunDelta:
    """One candidate against the baseline; parts computed on first use."""

    comparison: Comparison
    candidate: ComparedRun
    _parts: dict[str, Once] = field(default_factory=dict)

    def _once(self, name: str, work: Callable[[], Awaitable[Any]]) -> Once:
        if name not in self._parts:
            self._parts[name] = Once(work)
        return self._parts[name]

    async def overall(self, with_intervals: bool) -> dict[str, Delta]:
        base, cand = self.comparison.baseline.report, self.candidate.report
        base_coco, cand_coco = await base.coco(), await cand.coco()
        base_ratios, cand_ratios = await base.overall_ratios(), await cand.overall_ratios()
        values_b = {k: _defined(base_coco[k]) for k in ("ap", "ap50", "ap75")} | base_ratios
        values_c = {k: _defined(cand_coco[k]) for k in ("ap", "ap50", "ap75")} | cand_ratios
        intervals = (await self.intervals()).overall if with_intervals else {}
        return {
            name: Delta(
                values_b[name],
                values_c[name],
                _delta(values_b[name], values_c[name]),
                intervals.get(name),
            )
            for name in METRICS
        }

    async def per_label(self, with_intervals: bool) -> list[LabelDelta]:
        base_rows = {r.label: r for r in await self.comparison.baseline.report.per_label()}
        cand_rows = {r.label: r for r in await self.candidate.report.per_label()}
        intervals = (await self.intervals()).per_label if with_intervals else {}
        # The report's label rows have no AP75: it comes from the bootstrap statistics.
        base_ap75 = await self.comparison.label_ap75(self.comparison.baseline)
        cand_ap75 = await self.comparison.label_ap75(self.candidate)
        out = []
        for label in sorted(set(base_rows) | set(cand_rows)):
            b, c = base_rows.get(label), cand_rows.get(label)
            metrics = {}
            for name in METRICS:
                if name == "ap75":
                    bv = None if b is None else base_ap75.get(label)
                    cv = None if c is None else cand_ap75.get(label)
                else:
                    bv = None if b is None else getattr(b, name)
                    cv = None if c is None else getattr(c, name)
                metrics[name] = Delta(bv, cv, _delta(bv, cv), intervals.get(label, {}).get(name))
            out.append(
                LabelDelta(
                    label=label,
                    metrics=metrics,
                    baseline=_counts(b),
                    candidate=_counts(c),
                )
            )
        return out

    async def intervals(self) -> DeltaIntervals:
        comparison = self.comparison
        base, cand = comparison.baseline, self.candidate
        settings = comparison.bootstrap
        key = (
            base.evaluation_id,
            "paired bootstrap",
            cand.evaluation_id,
            comparison.selection_key,
            comparison.iou_threshold,
            comparison.confidence_threshold,
            comparison.labels_key,
            settings,
        )
        cache = comparison.cache

        async def fresh() -> DeltaIntervals:
            base_stats = await comparison.statistics(base)
            cand_stats = await comparison.statistics(cand)
            value: DeltaIntervals = await asyncio.to_thread(
                paired_intervals,
                base.snapshot,
                base.mask,
                base_stats,
                cand.snapshot,
                cand.mask,
                cand_stats,
                comparison.labels,
                settings.resamples,
                settings.seed,
                settings.level,
            )
            return value

        async def compute() -> DeltaIntervals:
            return await computed_once(cache, key, DeltaIntervals, fresh)

        result: DeltaIntervals = await self._once("intervals", compute).get()
        return result

    async def ground_truth(self) -> GroundTruthTransitions:
        comparison = self.comparison
        key = (
            comparison.baseline.evaluation_id,
            "ground truth transitions",
            self.candidate.evaluation_id,
            comparison.iou_threshold,
            comparison.confidence_threshold,
        )

        async def fresh() -> GroundTruthTransitions:
            return await asyncio.to_thread(
                _ground_truth_transitions,
                comparison.baseline,
                self.candidate,
                comparison.iou_threshold,
                comparison.confidence_threshold,
            )

        async def compute() -> GroundTruthTransitions:
            return await computed_once(comparison.cache, key, GroundTruthTransitions, fresh)

        result: GroundTruthTransitions = await self._once("ground truth", compute).get()
        return result

    async def false_positives(self) -> FalsePositiveChange:
        comparison = self.comparison
        base, cand = comparison.baseline, self.candidate
        key = (
            base.evaluation_id,
            "false positive change",
            cand.evaluation_id,
            comparison.iou_threshold,
            comparison.confidence_threshold,
        )
        cache = comparison.cache

        async def compute() -> FalsePositiveChange:
            found = cache.reports.get(key)
            if isinstance(found, FalsePositiveChange):
                return found
            async with comparison.session_factory() as session:
                value = await false_positive_change(
                    session,
                    base_run=base.run,
                    base=base.snapshot,
                    cand_run=cand.run,
                    cand=cand.snapshot,
                    iou_threshold=comparison.iou_threshold,
                    confidence_threshold=comparison.confidence_threshold,
                )
            cache.reports.put(key, value)
            return value

        result: FalsePositiveChange = await self._once("false positives", compute).get()
        return result

    async def false_positive_rows(self, kind: str, label: str | None = None) -> np.ndarray:
        """Snapshot prediction rows of NEW_FALSE_POSITIVE (candidate) or
        REMOVED_FALSE_POSITIVE (baseline) inside the comparison's items and labels."""
        change = await self.false_positives()
        run = self.candidate if kind == NEW_FALSE_POSITIVE else self.comparison.baseline
        rows = change.new if kind == NEW_FALSE_POSITIVE else change.removed
        table = run.snapshot.table
        keep = np.ones(rows.shape[0], dtype=bool)
        if run.mask is not None:
            keep &= run.mask[table.dt_item[rows]]
        wanted = self.comparison.wanted_labels(label)
        if wanted is not None:
            allowed = np.array([n in wanted for n in run.snapshot.label_names], dtype=bool)
            keep &= allowed[table.dt_label[rows]]
        out: np.ndarray = rows[keep]
        return out

    async def false_positive_counts(self, label: str | None = None) -> dict[str, int]:
        return {
            kind: int((await self.false_positive_rows(kind, label)).shape[0])
            for kind in (NEW_FALSE_POSITIVE, REMOVED_FALSE_POSITIVE)
        }

    async def transition_counts(self, label: str | None = None) -> dict[str, int]:
        """FIXED / BROKEN / STILL_MISSED / STILL_FOUND counts over the selected items and labels."""
        found = await self.ground_truth()
        keep = self.comparison.ground_truth_scope(found, label)
        return {kind: int(np.count_nonzero(found.kind(kind) & keep)) for kind in GROUND_TRUTH_KINDS}


def _counts(row: results.LabelRow | None) -> LabelCounts | None:
    if row is None:
        return None
    return LabelCounts(row.true_positives, row.false_positives, row.false_negatives)


def _ground_truth_transitions(
    base: ComparedRun, cand: ComparedRun, iou_threshold: float, confidence_threshold: float
) -> GroundTruthTransitions:
    base_outcome = ground_truth_outcome(base.snapshot.table, iou_threshold, confidence_threshold)
    cand_outcome = ground_truth_outcome(cand.snapshot.table, iou_threshold, confidence_threshold)
    return align_ground_truth(
        base.snapshot.gt_ids,
        base_outcome,
        base.snapshot.table.gt_label,
        cand.snapshot.gt_ids,
        cand_outcome,
    )


@dataclass
class Comparison:
    """The runs, their evaluations and the arguments every part is computed under."""

    baseline: ComparedRun
    candidates: list[ComparedRun]
    cache: SnapshotCache
    iou_threshold: float
    confidence_threshold: float
    labels: list[str] | None
    bootstrap: BootstrapSettings
    filter: dict[str, Any] | None
    slice_id: str | None
    session_factory: Callable[[], Any]
    deltas: list[RunDelta] = field(default_factory=list)
    _statistics: dict[int, Once] = field(default_factory=dict)

    @property
    def is_stale(self) -> bool:
        return any(run.is_stale for run in [self.baseline, *self.candidates])

    @property
    def stale_runs(self) -> list[ModelRun]:
        seen: dict[int, ModelRun] = {}
        for run in [self.baseline, *self.candidates]:
            if run.is_stale and run.run.id is not None:
                seen[run.run.id] = run.run
        return list(seen.values())

    @property
    def selection_key(self) -> tuple[Any, ...]:
        return tuple(
            None if r.mask is None else hash(np.packbits(r.mask).tobytes())
            for r in [self.baseline, *self.candidates]
        )

    @property
    def labels_key(self) -> tuple[str, ...] | None:
        return None if self.labels is None else tuple(sorted(set(self.labels)))

    async def statistics(self, run: ComparedRun) -> Any:
        """The run's per-item bootstrap statistics (kept in the snapshot cache)."""
        key = (run.evaluation_id, "run statistics", self.iou_threshold, self.confidence_threshold)

        async def fresh() -> RunStatistics:
            return await asyncio.to_thread(
                run_statistics, run.snapshot.table, self.iou_threshold, self.confidence_threshold
            )

        async def compute() -> RunStatistics:
            return await computed_once(self.cache, key, RunStatistics, fresh)

        if run.evaluation_id not in self._statistics:
            self._statistics[run.evaluation_id] = Once(compute)
        return await self._statistics[run.evaluation_id].get()

    async def label_ap75(self, run: ComparedRun) -> dict[str, float | None]:
        """Per-label AP75 of the run's selection (the report carries AP and AP50 only)."""
        selection = None if run.mask is None else hash(np.packbits(run.mask).tobytes())
        key = (
            run.evaluation_id,
            "label ap75",
            selection,
            self.iou_threshold,
            self.confidence_threshold,
        )

        async def fresh() -> dict[str, float | None]:
            stats = await self.statistics(run)
            points = await asyncio.to_thread(label_points, run.snapshot, run.mask, stats, None)
            values = points.per_label["ap75"][0]
            return {
                name: None if math.isnan(values[k]) else float(values[k])
                for k, name in enumerate(run.snapshot.label_names)
            }

        value: dict[str, float | None] = await computed_once(self.cache, key, dict, fresh)
        return value

    def wanted_labels(self, label: str | None) -> set[str] | None:
        """The label names in scope: the comparison's labels, narrowed to ``label``."""
        wanted = set(self.labels) if self.labels is not None else None
        if label is not None:
            wanted = {label} if wanted is None or label in wanted else set()
        return wanted

    def ground_truth_scope(self, found: GroundTruthTransitions, label: str | None) -> np.ndarray:
        """Aligned ground truths inside the comparison: selected items (either run's
        selection), the chosen labels, and ``label`` when given."""
        base = self.baseline
        table = base.snapshot.table
        keep = np.ones(found.label.shape[0], dtype=bool)
        masks = [r.mask for r in [base, *self.candidates] if r.mask is not None]
        if masks:
            base_mask = base.mask if base.mask is not None else np.ones(table.n_items, bool)
            keep &= base_mask[table.gt_item[found.base_row]]
        names = base.snapshot.label_names
        wanted = self.wanted_labels(label)
        if wanted is not None:
            allowed = np.array([name in wanted for name in names], dtype=bool)
            keep &= allowed[found.label] if allowed.shape[0] else False
        return keep


async def _compared_run(
    session: AsyncSession,
    cache: SnapshotCache,
    run: ModelRun,
    *,
    filter: dict[str, Any] | None,
    slice_id: str | None,
    iou_threshold: float,
    confidence_threshold: float,
    labels: list[str] | None,
) -> ComparedRun:
    visible = await lifecycle.visible_evaluation(session, run=run)
    if visible is None or visible.row.id is None:
        raise FailedPrecondition(
            f"model run {run.id} has no completed evaluation; call calculateEvaluationMetrics first"
        )
    report = await results.metrics_report(
        session,
        cache,
        run=run,
        filter=filter,
        slice_id=slice_id,
        iou_threshold=iou_threshold,
        confidence_threshold=confidence_threshold,
        labels=labels,
    )
    snapshot = await cache.get(session, visible.row.id)
    selection = await selected_items(
        session, snapshot, run, filter, slice_id, cache=cache, evaluation_id=visible.row.id
    )
    return ComparedRun(
        run=run,
        evaluation_id=visible.row.id,
        snapshot=snapshot,
        is_stale=visible.is_stale,
        mask=None if selection is None else selection.mask,
        report=report,
    )


async def _runs(session: AsyncSession, run_ids: list[str]) -> list[ModelRun]:
    if not MIN_RUNS <= len(run_ids) <= MAX_RUNS:
        raise InvalidInput(
            [Issue("runIds", f"give {MIN_RUNS} to {MAX_RUNS} runs, got {len(run_ids)}")]
        )
    rows = []
    for k, raw in enumerate(run_ids):
        key = require_id(raw, "ModelRun", f"runIds[{k}]")
        row = await reads.row_by_id(session, table=ModelRun, id=key)
        if row is None:
            raise NotFound("ModelRun", raw, f"runIds[{k}]")
        rows.append(row)
    return rows


async def _check_comparable(session: AsyncSession, runs: list[ModelRun], base: int) -> None:
    """Same dataset, same evaluation options, same ground-truth set, or an issue naming the
    first difference of each run."""
    issues = []
    evaluations = []
    for run in runs:
        visible = await lifecycle.visible_evaluation(session, run=run)
        if visible is None:
            raise FailedPrecondition(
                f"model run {run.id} has no completed evaluation; call "
                "calculateEvaluationMetrics first"
            )
        evaluations.append(EvaluationOptions.from_json(visible.row.options).to_json())
    label_sets = [await _label_set(session, run) for run in runs]
    for k, run in enumerate(runs):
        if k == base:
            continue
        path = f"runIds[{k}]"
        if run.dataset_id != runs[base].dataset_id:
            issues.append(
                Issue(
                    path,
                    f"run {run.id} belongs to dataset {run.dataset_id}, the baseline to dataset "
                    f"{runs[base].dataset_id}: compare runs of one dataset",
                )
            )
            continue
        for option in OPTION_NAMES:
            mine, theirs = evaluations[k].get(option), evaluations[base].get(option)
            if mine != theirs:
                issues.append(
                    Issue(
                        path,
                        f"option {option} differs: run {run.id} was evaluated with {mine!r}, "
                        f"the baseline with {theirs!r}; evaluate both with the same options",
                    )
                )
                break
        else:
            if label_sets[k] != label_sets[base]:
                issues.append(
                    Issue(
                        path,
                        f"option labels differs: run {run.id} is judged against another "
                        "ground-truth set than the baseline (upsertLabels)",
                    )
                )
    if issues:
        raise InvalidInput(issues)


async def _label_set(session: AsyncSession, run: ModelRun) -> tuple[int, ...] | None:
    if run.labels_all or run.id is None:
        return None
    return tuple(await select_run_label_annotations(session=session, model_run_id=run.id))


async def compare_runs(
    session: AsyncSession,
    cache: SnapshotCache,
    *,
    run_ids: list[str],
    baseline_id: str | None,
    filter: dict[str, Any] | None,
    slice_id: str | None,
    iou_threshold: float,
    confidence_threshold: float,
    labels: list[str] | None,
    bootstrap: BootstrapSettings,
    max_resamples: int,
    session_factory: Callable[[], Any],
) -> Comparison:
    """The comparison of ``run_ids`` against the baseline (``baseline_id``, else the first).

    Raises:
        InvalidInput: fewer than 2 or more than 8 runs, runs of different datasets or evaluated
            with different options (the issue names the option), a baseline not among the runs,
            bootstrap arguments out of bounds.
        NotFound: a run id that names nothing.
        FailedPrecondition: a run without a completed evaluation.
    """
    _check_bootstrap(bootstrap, max_resamples)
    runs = await _runs(session, run_ids)
    base = 0
    if baseline_id is not None:
        matches = [
            k for k, raw in enumerate(run_ids) if str(raw).strip() == str(baseline_id).strip()
        ]
        if not matches:
            raise InvalidInput([Issue("baselineId", "must be one of runIds")])
        base = matches[0]
    await _check_comparable(session, runs, base)
    compared = [
        await _compared_run(
            session,
            cache,
            run,
            filter=filter,
            slice_id=slice_id,
            iou_threshold=iou_threshold,
            confidence_threshold=confidence_threshold,
            labels=labels,
        )
        for run in runs
    ]
    comparison = Comparison(
        baseline=compared[base],
        candidates=[c for k, c in enumerate(compared) if k != base],
        cache=cache,
        iou_threshold=iou_threshold,
        confidence_threshold=confidence_threshold,
        labels=labels,
        bootstrap=bootstrap,
        filter=filter,
        slice_id=slice_id,
        session_factory=session_factory,
    )
    comparison.deltas = [RunDelta(comparison, c) for c in comparison.candidates]
    return comparison


def _check_bootstrap(settings: BootstrapSettings, max_resamples: int) -> None:
    issues = []
    if not 1 <= settings.resamples <= max_resamples:
        issues.append(
            Issue(
                "resamples",
                f"must lie in 1..{max_resamples} (SLICEBOARD_MAX_BOOTSTRAP_RESAMPLES)",
            )
        )
    if not (math.isfinite(settings.level) and 0.0 < settings.level < 1.0):
        issues.append(Issue("level", "must lie strictly between 0 and 1"))
    if not 0 <= settings.seed < 2**63:
        issues.append(Issue("seed", "must lie in 0..2^63-1"))
    if issues:
        raise InvalidInput(issues)
