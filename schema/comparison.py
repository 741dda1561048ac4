"""``Query.compareRuns`` and its types: deltas with paired-bootstrap intervals, object
transitions, the objects themselves, and the slices where a candidate lost the most."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from sliceboard.schema.context import Info
from sliceboard.schema.convert import given
from sliceboard.schema.evaluation.arguments import snapshot_cache
from sliceboard.schema.fields import field
from sliceboard.schema.filters import ItemFilter, filter_to_dict
from sliceboard.schema.pagination import Edge, PageInfo, page_size
from sliceboard.schema.reading import read
from sliceboard.schema.scalars import JSON, json_value
from sliceboard.services import comparison as service
from sliceboard.services.comparison_objects import ComparedObject as ObjectRecord
from sliceboard.services.comparison_objects import page_objects
from sliceboard.services.comparison_regressions import find_regressions

if TYPE_CHECKING:
    from sliceboard.schema.types.annotation import Annotation, Prediction
    from sliceboard.schema.types.item import Item
    from sliceboard.schema.types.model import ModelRun
    from sliceboard.schema.types.slice import Slice

ModelRunType = Annotated["ModelRun", strawberry.lazy("sliceboard.schema.types.model")]


@strawberry.enum
class TransitionKind(Enum):
    FIXED = "FIXED"
    BROKEN = "BROKEN"
    STILL_MISSED = "STILL_MISSED"
    STILL_FOUND = "STILL_FOUND"
    NEW_FALSE_POSITIVE = "NEW_FALSE_POSITIVE"
    REMOVED_FALSE_POSITIVE = "REMOVED_FALSE_POSITIVE"


@strawberry.type(
    description="candidate - baseline, with a paired-bootstrap interval and two-sided p-value "
    "(null where a value is undefined, e.g. AP of a label without ground truth)."
)
class Delta:
    baseline: float | None
    candidate: float | None
    delta: float | None
    record: strawberry.Private[service.Delta]
    owner: strawberry.Private[Any]  # the RunDelta whose intervals this one reads
    label: strawberry.Private[str | None]
    name: strawberry.Private[str]

    async def _interval(self) -> Any:
        intervals = await self.owner.intervals()
        if self.label is None:
            return intervals.overall.get(self.name)
        return intervals.per_label.get(self.label, {}).get(self.name)

    @strawberry.field
    async def low(self) -> float | None:
        found = await self._interval()
        return None if found is None else found.low

    @strawberry.field
    async def high(self) -> float | None:
        found = await self._interval()
        return None if found is None else found.high

    @strawberry.field
    async def p_value(self) -> float | None:
        found = await self._interval()
        return None if found is None else found.p_value


def _delta(owner: Any, label: str | None, name: str, record: service.Delta) -> Delta:
    return Delta(
        baseline=record.baseline,
        candidate=record.candidate,
        delta=record.delta,
        record=record,
        owner=owner,
        label=label,
        name=name,
    )


@strawberry.type
class DeltaSet:
    ap: Delta
    ap50: Delta
    ap75: Delta
    precision: Delta
    recall: Delta
    f1: Delta


def _delta_set(owner: Any, label: str | None, values: dict[str, service.Delta]) -> DeltaSet:
    return DeltaSet(**{name: _delta(owner, label, name, values[name]) for name in service.METRICS})


@strawberry.type(
    description="Objects whose outcome changed from the baseline to the candidate at the "
    "comparison's thresholds; candidate TP - baseline TP = fixed - broken."
)
class TransitionCounts:
    fixed: int
    broken: int
    still_missed: int
    still_found: int
    owner: strawberry.Private[Any]
    label: strawberry.Private[str | None]

    @field(description="Candidate false positives no baseline false positive pairs.")
    async def new_false_positives(self) -> int:
        counts: dict[str, int] = await self.owner.false_positive_counts(self.label)
        return counts[service.NEW_FALSE_POSITIVE]

    @field(description="Baseline false positives no candidate false positive pairs.")
    async def removed_false_positives(self) -> int:
        counts: dict[str, int] = await self.owner.false_positive_counts(self.label)
        return counts[service.REMOVED_FALSE_POSITIVE]


async def _transitions(owner: service.RunDelta, label: str | None) -> TransitionCounts:
    counts = await owner.transition_counts(label)
    return TransitionCounts(
        fixed=counts["FIXED"],
        broken=counts["BROKEN"],
        still_missed=counts["STILL_MISSED"],
        still_found=counts["STILL_FOUND"],
        owner=owner,
        label=label,
    )


@strawberry.type
class LabelDelta:
    label: str
    ap: Delta
    ap50: Delta
    ap75: Delta
    precision: Delta
    recall: Delta
    f1: Delta
    baseline_true_positives: int | None
    candidate_true_positives: int | None
    baseline_false_positives: int | None
    candidate_false_positives: int | None
    baseline_false_negatives: int | None
    candidate_false_negatives: int | None
    owner: strawberry.Private[Any]

    @strawberry.field
    async def transitions(self) -> TransitionCounts:
        return await _transitions(self.owner, self.label)


@strawberry.type
class ComparedObject:
    kind: TransitionKind
    label: str
    record: strawberry.Private[ObjectRecord]

    @strawberry.field
    async def item(
        self, info: Info
    ) -> Annotated[Item, strawberry.lazy("sliceboard.schema.types.item")] | None:
        from sliceboard.schema.types.item import Item

        row = await info.context.loaders.item.load(self.record.item_id)
        return None if row is None else Item(row=row)

    @field(description="The ground truth (FIXED, BROKEN, STILL_MISSED, STILL_FOUND).")
    async def ground_truth(
        self, info: Info
    ) -> Annotated[Annotation, strawberry.lazy("sliceboard.schema.types.annotation")] | None:
        from sliceboard.schema.types.annotation import Annotation

        if self.record.ground_truth_id is None:
            return None
        row = await info.context.loaders.annotation.load(self.record.ground_truth_id)
        return None if row is None else Annotation(row=row)

    @field(description="The false positive (NEW: the candidate's; REMOVED: the baseline's).")
    async def prediction(
        self, info: Info
    ) -> Annotated[Prediction, strawberry.lazy("sliceboard.schema.types.annotation")] | None:
        found: Prediction | None = await _prediction(info, self.record.prediction_id)
        return found

    @field(description="The baseline prediction that found the ground truth.")
    async def baseline_match(
        self, info: Info
    ) -> Annotated[Prediction, strawberry.lazy("sliceboard.schema.types.annotation")] | None:
        found: Prediction | None = await _prediction(info, self.record.baseline_match_id)
        return found

    @field(description="The candidate prediction that found the ground truth.")
    async def candidate_match(
        self, info: Info
    ) -> Annotated[Prediction, strawberry.lazy("sliceboard.schema.types.annotation")] | None:
        found: Prediction | None = await _prediction(info, self.record.candidate_match_id)
        return found


async def _prediction(info: Info, key: int | None) -> Any:
    from sliceboard.schema.types.annotation import Prediction

    if key is None:
        return None
    row = await info.context.loaders.prediction.load(key)
    return None if row is None else Prediction(row=row)


@strawberry.type
class ComparedObjectConnection:
    page_info: PageInfo
    edges: list[Edge[ComparedObject]]
    total_count: int


@strawberry.enum
class RegressionKind(Enum):
    SLICE = "SLICE"
    METADATA = "METADATA"


@strawberry.type(description="A group of items and the candidate's AP change on it.")
class Regression:
    kind: RegressionKind
    name: str
    field: str | None
    value: JSON | None
    item_count: int
    ap: Delta
    adjusted_p_value: float | None = strawberry.field(
        description="The AP delta's p-value adjusted over all groups (Benjamini-Hochberg)."
    )
    slice_id: strawberry.Private[int | None]

    @strawberry.field
    async def slice(
        self, info: Info
    ) -> Annotated[Slice, strawberry.lazy("sliceboard.schema.types.slice")] | None:
        from sliceboard.schema.types.slice import Slice

        if self.slice_id is None:
            return None
        row = await info.context.loaders.slice.load(self.slice_id)
        return None if row is None else Slice(row=row)


class _Fixed:
    """A Delta owner whose interval is already known (a regression's)."""

    def __init__(self, interval: Any) -> None:
        self._interval = interval

    async def intervals(self) -> Any:
        from sliceboard.services.comparison_bootstrap import DeltaIntervals

        return DeltaIntervals(overall={"ap": self._interval}, per_label={})


@strawberry.type
class RunDelta:
    owner: strawberry.Private[service.RunDelta]

    @strawberry.field
    async def run(self) -> ModelRunType:
        from sliceboard.schema.types.model import ModelRun

        return ModelRun(row=self.owner.candidate.run)

    @field(description="Deltas over the comparison's items and labels.")
    async def overall(self) -> DeltaSet:
        return _delta_set(self.owner, None, await self.owner.overall(with_intervals=False))

    @field(description="Deltas per label (labels of either run).")
    async def per_label(self) -> list[LabelDelta]:
        rows = await self.owner.per_label(with_intervals=False)
        out = []
        for row in rows:
            b, c = row.baseline, row.candidate
            out.append(
                LabelDelta(
                    label=row.label,
                    **{
                        name: _delta(self.owner, row.label, name, row.metrics[name])
                        for name in service.METRICS
                    },
                    baseline_true_positives=None if b is None else b.true_positives,
                    candidate_true_positives=None if c is None else c.true_positives,
                    baseline_false_positives=None if b is None else b.false_positives,
                    candidate_false_positives=None if c is None else c.false_positives,
                    baseline_false_negatives=None if b is None else b.false_negatives,
                    candidate_false_negatives=None if c is None else c.false_negatives,
                    owner=self.owner,
                )
            )
        return out

    @strawberry.field
    async def transitions(self) -> TransitionCounts:
        return await _transitions(self.owner, None)

    @field(description="The objects of one transition kind, in item order.")
    async def objects(
        self,
        info: Info,
        kind: TransitionKind,
        label: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> ComparedObjectConnection:
        limit = page_size(info, first)
        page = await page_objects(
            self.owner,
            kind=kind.value,
            label=label if given(label) else None,
            first=limit,
            after=after,
        )
        edges = [
            Edge(
                cursor=cursor,
                node=ComparedObject(kind=TransitionKind(n.kind), label=n.label, record=n),
            )
            for n, cursor in zip(page.nodes, page.cursors, strict=True)
        ]
        return ComparedObjectConnection(
            page_info=PageInfo(
                has_next_page=page.has_next,
                has_previous_page=page.has_previous,
                start_cursor=page.cursors[0] if page.cursors else None,
                end_cursor=page.cursors[-1] if page.cursors else None,
            ),
            edges=edges,
            total_count=page.total,
        )

    @field(
        description="Saved slices and the most frequent values of each item metadata field, "
        "largest AP loss first (SLICEBOARD_MAX_REGRESSION_GROUPS groups at most)."
    )
    async def regressions(
        self, info: Info, first: int = 10, resamples: int = 200
    ) -> list[Regression]:
        settings = info.context.runtime.settings
        found = await read(
            info,
            lambda session: find_regressions(
                session,
                self.owner,
                first=min(first, settings.max_regression_groups),
                resamples=resamples,
                max_resamples=settings.max_bootstrap_resamples,
                max_groups=settings.max_regression_groups,
                values_per_field=settings.regression_values_per_field,
            ),
        )
        from sliceboard.services.comparison_bootstrap import Interval

        out = []
        for r in found:
            interval = Interval(r.low, r.high, r.p_value)
            out.append(
                Regression(
                    kind=RegressionKind(r.group.kind),
                    name=r.group.name,
                    field=r.group.field,
                    value=json_value(r.group.value) if r.group.value is not None else None,
                    item_count=r.item_count,
                    ap=_delta(
                        _Fixed(interval),
                        None,
                        "ap",
                        service.Delta(r.baseline, r.candidate, r.delta),
                    ),
                    adjusted_p_value=r.adjusted_p_value,
                    slice_id=r.group.slice_id,
                )
            )
        return out


@strawberry.type
class RunComparison:
    comparison: strawberry.Private[service.Comparison]

    @strawberry.field
    async def baseline(self) -> ModelRunType:
        from sliceboard.schema.types.model import ModelRun

        return ModelRun(row=self.comparison.baseline.run)

    @field(description="Each other run against the baseline, in the order given.")
    async def candidates(self) -> list[RunDelta]:
        return [RunDelta(owner=delta) for delta in self.comparison.deltas]

    @field(
        description="Whether any run's evaluation is stale (its predictions or the dataset's "
        "ground truth changed since): re-evaluate before trusting the numbers."
    )
    def is_stale(self) -> bool:
        return self.comparison.is_stale

    @field(description="The runs whose evaluation is stale.")
    async def stale_runs(self) -> list[ModelRunType]:
        from sliceboard.schema.types.model import ModelRun

        return [ModelRun(row=row) for row in self.comparison.stale_runs]

    @strawberry.field
    def resamples(self) -> int:
        return self.comparison.bootstrap.resamples

    @strawberry.field
    def level(self) -> float:
        return self.comparison.bootstrap.level


async def compare_runs(
    info: Info,
    *,
    run_ids: list[strawberry.ID],
    baseline_id: strawberry.ID | None,
    filter: ItemFilter | None,
    slice_id: strawberry.ID | None,
    iou_threshold: float | None,
    confidence_threshold: float | None,
    labels: list[str] | None,
    resamples: int | None,
    seed: int | None,
    level: float | None,
) -> RunComparison:
    runtime = info.context.runtime
    settings = runtime.settings
    comparison = await read(
        info,
        lambda session: service.compare_runs(
            session,
            snapshot_cache(info),
            run_ids=[str(r) for r in run_ids],
            baseline_id=str(baseline_id) if given(baseline_id) else None,
            filter=filter_to_dict(filter),
            slice_id=str(slice_id) if given(slice_id) else None,
            iou_threshold=0.5 if iou_threshold is None else iou_threshold,
            confidence_threshold=0.0 if confidence_threshold is None else confidence_threshold,
            labels=labels if given(labels) else None,
            bootstrap=service.BootstrapSettings(
                resamples=1000 if resamples is None else resamples,
                seed=0 if seed is None else seed,
                level=0.95 if level is None else level,
            ),
            max_resamples=settings.max_bootstrap_resamples,
            session_factory=runtime.reading,
        ),
    )
    return RunComparison(comparison=comparison)
