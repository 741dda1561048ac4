"""A model (reusable across datasets) and its runs (its predictions on one dataset)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from sliceboard.schema import custom_metrics, jobs
from sliceboard.schema.child_connection import ONE_PAGE, capped, child_connection, one_page
from sliceboard.schema.context import Info
from sliceboard.schema.convert import given
from sliceboard.schema.custom_metrics import AggregatedMetric
from sliceboard.schema.evaluation import browse, confusion_cells, report, versions
from sliceboard.schema.evaluation.browse import PredictionFilter, PredictionOrder
from sliceboard.schema.evaluation.report import MetricsReport
from sliceboard.schema.evaluation.versions import Evaluation
from sliceboard.schema.fields import field
from sliceboard.schema.filters import ItemFilter, filter_to_dict
from sliceboard.schema.jobs import Job
from sliceboard.schema.pagination import Connection, build_connection, decode_cursor, page_size
from sliceboard.schema.reading import deferred, read
from sliceboard.schema.scalars import JSON, json_value
from sliceboard.schema.types.annotation import (
    AnnotationConnection,
    Prediction,
    PredictionConnection,
)
from sliceboard.schema.types.named import NamedRow
from sliceboard.services import reads
from sliceboard.storage import tables

if TYPE_CHECKING:
    from sliceboard.schema.types.dataset import Dataset


@strawberry.type
class Model(NamedRow):
    row: strawberry.Private[tables.Model]

    @strawberry.field
    def reference_id(self) -> str:
        return self.row.reference_id

    @strawberry.field
    def metadata(self) -> JSON | None:
        return json_value(self.row.metadata_) if self.row.metadata_ is not None else None

    @field(description="Its runs on every dataset. " + ONE_PAGE.format(paged="runsConnection"))
    async def runs(self, info: Info) -> list[ModelRun]:
        assert self.row.id is not None
        rows = await info.context.loaders.runs_by_model.load(self.row.id)
        return [ModelRun(row=row) for row in one_page(info, rows)]

    @field(description="Its runs on every dataset, paged, in creation order.")
    async def runs_connection(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> ModelRunConnection:
        return await child_connection(
            info,
            ModelRunConnection,
            kind="ModelRun",
            table=tables.ModelRun,
            parent={"model_id": int(self.row.id or 0)},
            first=first,
            after=after,
            node=lambda row: ModelRun(row=row),
        )


@strawberry.type
class ModelConnection(Connection[Model]):
    pass


@strawberry.type
class ModelRun(NamedRow):
    row: strawberry.Private[tables.ModelRun]

    @strawberry.field
    async def model(self, info: Info) -> Model:
        row = await info.context.loaders.model.load(self.row.model_id)
        assert row is not None
        return Model(row=row)

    @strawberry.field
    async def dataset(
        self, info: Info
    ) -> Annotated[Dataset, strawberry.lazy("sliceboard.schema.types.dataset")]:
        from sliceboard.schema.types.dataset import Dataset

        row = await info.context.loaders.dataset.load(self.row.dataset_id)
        assert row is not None
        return Dataset(row=row)

    @field(
        description="Jobs of this run (evaluations), newest first; at most "
        "SLICEBOARD_MAX_PAGE_SIZE (default 100)."
    )
    async def jobs(self, info: Info) -> list[Job]:
        return one_page(info, await jobs.model_run_jobs(info, int(self.row.id or 0)))

    @field(description="The current evaluation; null before the first completes.")
    async def evaluation(self, info: Info) -> Evaluation | None:
        return await versions.model_run_evaluation(info, self.row)

    @strawberry.field
    async def metrics(
        self,
        info: Info,
        filter: ItemFilter | None = None,
        slice_id: strawberry.ID | None = None,
        iou_threshold: float | None = 0.5,
        confidence_threshold: float | None = 0.0,
        labels: list[str] | None = None,
    ) -> MetricsReport:
        return await report.model_run_metrics(
            info,
            self.row,
            filter=filter,
            slice_id=slice_id,
            iou_threshold=iou_threshold,
            confidence_threshold=confidence_threshold,
            labels=labels,
        )

    @field(
        description=(
            "Predictions in upload order. labels, confidenceRange and items filter directly; "
            "outcome, iouRange and orderBy need the evaluation."
        )
    )
    async def predictions(
        self,
        info: Info,
        filter: PredictionFilter | None = None,
        order_by: PredictionOrder | None = None,
        iou_threshold: float | None = 0.5,
        first: int | None = None,
        after: str | None = None,
    ) -> PredictionConnection:
        if browse.needs_evaluation(filter, order_by):
            return await browse.model_run_evaluated_predictions(
                info,
                self.row,
                filter=filter,
                order_by=order_by,
                iou_threshold=iou_threshold,
                first=first,
                after=after,
            )
        limit, after_id = page_size(info, first), decode_cursor("Prediction", after)
        labels = filter.labels if filter is not None and given(filter.labels) else None
        confidence = (
            filter.confidence_range
            if filter is not None and given(filter.confidence_range)
            else None
        )
        items = filter_to_dict(filter.items) if filter is not None and given(filter.items) else None
        selection = reads.PredictionSelection(
            model_run_id=int(self.row.id or 0),
            dataset_id=self.row.dataset_id,
            labels=labels,
            confidence_min=confidence.min
            if confidence is not None and given(confidence.min)
            else None,
            confidence_max=confidence.max
            if confidence is not None and given(confidence.max)
            else None,
            items=items,
        )
        page = await read(
            info,
            lambda s: reads.page_predictions(
                s, selection=selection, after_id=after_id, limit=limit
            ),
        )
        return build_connection(
            PredictionConnection,
            kind="Prediction",
            rows=page.rows,
            has_next=page.has_next,
            after_id=after_id,
            node=lambda row: Prediction(row=row),
            row_id=lambda row: int(row.id or 0),
            count=deferred(info, lambda s: reads.count_predictions(s, selection=selection)),
        )

    @field(description="Ground truth no prediction matched at iouThreshold (needs the evaluation).")
    async def false_negatives(
        self,
        info: Info,
        filter: ItemFilter | None = None,
        iou_threshold: float | None = 0.5,
        labels: list[str] | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> AnnotationConnection:
        return await browse.model_run_false_negatives(
            info,
            self.row,
            filter=filter,
            iou_threshold=iou_threshold,
            labels=labels,
            first=first,
            after=after,
        )

    @field(
        description="The predictions counted in one cell of metrics(...).confusionMatrix for "
        "the same filter, slice and thresholds, by descending confidence; groundTruthLabel null "
        "is the background row (false positives that overlap no missed ground truth)."
    )
    async def confusion_predictions(
        self,
        info: Info,
        prediction_label: str,
        ground_truth_label: str | None = None,
        filter: ItemFilter | None = None,
        slice_id: strawberry.ID | None = None,
        iou_threshold: float | None = 0.5,
        confidence_threshold: float | None = 0.0,
        first: int | None = None,
        after: str | None = None,
    ) -> PredictionConnection:
        return await confusion_cells.confusion_predictions(
            info,
            self.row,
            ground_truth_label=ground_truth_label,
            prediction_label=prediction_label,
            filter=filter,
            slice_id=slice_id,
            iou_threshold=iou_threshold,
            confidence_threshold=confidence_threshold,
            first=first,
            after=after,
        )

    @field(
        description="The ground truth counted in the background column of "
        "metrics(...).confusionMatrix for one label (missed, and not confused with another "
        "label's prediction), for the same filter, slice and thresholds."
    )
    async def confusion_misses(
        self,
        info: Info,
        ground_truth_label: str,
        filter: ItemFilter | None = None,
        slice_id: strawberry.ID | None = None,
        iou_threshold: float | None = 0.5,
        confidence_threshold: float | None = 0.0,
        first: int | None = None,
        after: str | None = None,
    ) -> AnnotationConnection:
        return await confusion_cells.confusion_misses(
            info,
            self.row,
            ground_truth_label=ground_truth_label,
            filter=filter,
            slice_id=slice_id,
            iou_threshold=iou_threshold,
            confidence_threshold=confidence_threshold,
            first=first,
            after=after,
        )

    @field(
        description="User-uploaded metrics aggregated over the items of a filter and/or slice; "
        "at most SLICEBOARD_MAX_LIST_ITEMS (default 1,000) names (choose them with `names`)."
    )
    async def custom_metrics(
        self,
        info: Info,
        filter: ItemFilter | None = None,
        slice_id: strawberry.ID | None = None,
        names: list[str] | None = None,
    ) -> list[AggregatedMetric]:
        aggregated = await custom_metrics.model_run_custom_metrics(
            info,
            int(self.row.id or 0),
            self.row.dataset_id,
            filter=filter,
            slice_id=slice_id,
            names=names,
        )
        return capped(info, aggregated)


@strawberry.type
class ModelRunConnection(Connection[ModelRun]):
    pass
