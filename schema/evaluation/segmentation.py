"""``MetricsReport.segmentation``: the pixel and segment metrics of a slice's semantic masks."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated

import strawberry

from sliceboard.schema.context import Info
from sliceboard.schema.fields import field
from sliceboard.schema.pagination import Edge, PageInfo, decode_cursor, encode_cursor, page_size
from sliceboard.services.evaluation import results
from sliceboard.services.evaluation.report_parts import SegmentationPart

if TYPE_CHECKING:
    from sliceboard.schema.types.annotation import Annotation, Prediction

CURSOR_KIND = "segment"


def _number(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


@strawberry.type(description="Pixel metrics of one label; null where the denominator is 0.")
class PixelLabelMetrics:
    label: str
    iou: float | None
    dice: float | None = strawberry.field(description="Dice = pixel F1.")
    precision: float | None
    recall: float | None = strawberry.field(description="Recall = the label's pixel accuracy.")
    true_positive_pixels: int
    false_positive_pixels: int
    false_negative_pixels: int
    ground_truth_pixels: int
    predicted_pixels: int


@strawberry.type(description="Segment counts of one label (Nucleus' rule: IoU above 1%).")
class SegmentLabelMetrics:
    label: str
    true_positives: int
    false_positives: int
    false_negatives: int
    precision: float | None
    recall: float | None
    f1: float | None


@strawberry.type(
    description="Ground-truth labels in rows; predicted labels in columns, plus a last 'unlabelled' column (pixels the prediction left at the ignore index)."
)
class PixelConfusionMatrix:
    labels: list[str]
    counts: list[list[int]]


@strawberry.type(description="Last row and column: no segment (background).")
class SegmentConfusionMatrix:
    labels: list[str]
    counts: list[list[int]]


@strawberry.type(
    description="A false-positive (predicted) or false-negative (ground-truth) segment."
)
class SegmentMistake:
    row_id: strawberry.Private[int]
    false_positive: strawberry.Private[bool]
    index: int
    label: str
    pixels: int
    iou: float = strawberry.field(
        description="IoU with the segment of another label it paired with, else 0."
    )
    paired_label: str | None

    @field(description="The ground truth holding a false-negative segment.")
    async def annotation(
        self, info: Info
    ) -> Annotated[Annotation, strawberry.lazy("sliceboard.schema.types.annotation")] | None:
        from sliceboard.schema.types.annotation import Annotation

        if self.false_positive:
            return None
        row = await info.context.loaders.annotation.load(self.row_id)
        return Annotation(row=row) if row is not None else None

    @field(description="The prediction holding a false-positive segment.")
    async def prediction(
        self, info: Info
    ) -> Annotated[Prediction, strawberry.lazy("sliceboard.schema.types.annotation")] | None:
        from sliceboard.schema.types.annotation import Prediction

        if not self.false_positive:
            return None
        row = await info.context.loaders.prediction.load(self.row_id)
        return Prediction(row=row) if row is not None else None


@strawberry.type
class SegmentMistakeConnection:
    page_info: PageInfo
    edges: list[Edge[SegmentMistake]]
    total_count: int


@strawberry.type(
    description="Semantic masks of the slice: pixel metrics (ignore index excluded) and segment metrics."
)
class SegmentationMetrics:
    report: strawberry.Private[results.Report]
    part: strawberry.Private[SegmentationPart]

    @field(description="Items of the slice with a ground-truth mask.")
    def item_count(self) -> int:
        return self.part.item_count

    @strawberry.field
    def labels(self) -> list[str]:
        return self.report.semantic_labels

    @field(
        description="Mean IoU over labels, each label's IoU accumulated over the whole slice (Cityscapes, mmsegmentation)."
    )
    def mean_iou(self) -> float | None:
        return _number(self.part.pixels.mean_iou)

    @field(
        description="Mean over items of each item's mean IoU (labels present in the item); not meanIou."
    )
    def mean_image_iou(self) -> float | None:
        return _number(self.part.mean_image_iou)

    @strawberry.field
    def pixel_accuracy(self) -> float | None:
        return _number(self.part.pixels.pixel_accuracy)

    @field(description="Mean pixel recall over labels present in the ground truth.")
    def mean_class_accuracy(self) -> float | None:
        return _number(self.part.pixels.mean_class_accuracy)

    @strawberry.field
    def frequency_weighted_iou(self) -> float | None:
        return _number(self.part.pixels.frequency_weighted_iou)

    @strawberry.field
    def per_label(self) -> list[PixelLabelMetrics]:
        p = self.part.pixels
        return [
            PixelLabelMetrics(
                label=name,
                iou=_number(p.iou[k]),
                dice=_number(p.dice[k]),
                precision=_number(p.precision[k]),
                recall=_number(p.recall[k]),
                true_positive_pixels=int(p.tp[k]),
                false_positive_pixels=int(p.fp[k]),
                false_negative_pixels=int(p.fn[k]),
                ground_truth_pixels=int(p.gt_pixels[k]),
                predicted_pixels=int(p.predicted_pixels[k]),
            )
            for k, name in enumerate(self.report.semantic_labels)
        ]

    @strawberry.field
    def pixel_confusion_matrix(self) -> PixelConfusionMatrix:
        return PixelConfusionMatrix(
            labels=self.report.semantic_labels, counts=self.part.pixels.confusion.tolist()
        )

    @strawberry.field
    def segments_per_label(self) -> list[SegmentLabelMetrics]:
        s = self.part.segments
        return [
            SegmentLabelMetrics(
                label=name,
                true_positives=int(s.tp[k]),
                false_positives=int(s.fp[k]),
                false_negatives=int(s.fn[k]),
                precision=_number(s.precision[k]),
                recall=_number(s.recall[k]),
                f1=_number(s.f1[k]),
            )
            for k, name in enumerate(self.report.semantic_labels)
        ]

    @strawberry.field
    def segment_confusion_matrix(self) -> SegmentConfusionMatrix:
        return SegmentConfusionMatrix(
            labels=self.report.semantic_labels, counts=self.part.segments.confusion.tolist()
        )

    def _page(
        self, info: Info, false_positives: bool, first: int | None, after: str | None
    ) -> SegmentMistakeConnection:
        limit = page_size(info, first)
        start = 0 if after is None else (decode_cursor(CURSOR_KIND, after) or 0) + 1
        page = self.report.segment_mistakes(
            false_positives=false_positives, start=start, limit=limit
        )
        edges = [
            Edge(
                cursor=encode_cursor(CURSOR_KIND, start + k),
                node=SegmentMistake(
                    row_id=row.row_id,
                    false_positive=false_positives,
                    index=row.index,
                    label=row.label,
                    pixels=row.pixels,
                    iou=row.iou,
                    paired_label=row.paired_label,
                ),
            )
            for k, row in enumerate(page.rows)
        ]
        return SegmentMistakeConnection(
            page_info=PageInfo(
                has_next_page=start + len(edges) < page.total,
                has_previous_page=start > 0,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
            edges=edges,
            total_count=page.total,
        )

    @field(description="Predicted segments that are no true positive, in item order.")
    def false_positive_segments(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> SegmentMistakeConnection:
        return self._page(info, True, first, after)

    @field(description="Ground-truth segments no prediction found, in item order.")
    def false_negative_segments(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> SegmentMistakeConnection:
        return self._page(info, False, first, after)
