"""Ground truth (``Annotation``) and model output (``Prediction``) as GraphQL types."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from sliceboard.schema.context import Info
from sliceboard.schema.fields import field
from sliceboard.schema.geometry import (
    Geometry,
    GeometryType,
    geometry_from_json,
)
from sliceboard.schema.pagination import Connection
from sliceboard.schema.scalars import JSON, json_value
from sliceboard.storage import tables

if TYPE_CHECKING:
    from sliceboard.schema.types.item import Item


@strawberry.type
class Classification:
    name: str
    value: str


@strawberry.type
class MetricValue:
    name: str
    value: float


def _classifications(raw: list[dict[str, str]] | None) -> list[Classification]:
    return [Classification(name=c["name"], value=c["value"]) for c in raw or []]


async def _item(info: Info, item_id: int) -> Item:
    from sliceboard.schema.types.item import Item

    row = await info.context.loaders.item.load(item_id)
    assert row is not None, "foreign key guarantees the item"
    return Item(row=row)


@strawberry.type
class LabelledObject:
    """What a ground truth and a prediction both answer from their rows."""

    row: strawberry.Private[tables.Annotation | tables.Prediction]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.row.id))

    @field(description="The user's key, unique within the item.")
    def annotation_id(self) -> str:
        return self.row.annotation_id

    @strawberry.field
    def label(self) -> str:
        return self.row.label

    @strawberry.field
    def type(self) -> GeometryType:
        return GeometryType(self.row.type)

    @field(description="null for a CATEGORY label.")
    def geometry(self) -> Geometry | None:
        return geometry_from_json(self.row.type, self.row.geometry)

    @field(description="COCO's area: the user's, else the geometry's own.")
    def area(self) -> float | None:
        return self.row.area

    @strawberry.field
    def metadata(self) -> JSON | None:
        return json_value(self.row.metadata_) if self.row.metadata_ is not None else None

    @strawberry.field
    def classifications(self) -> list[Classification]:
        return _classifications(self.row.classifications)

    @strawberry.field
    async def item(
        self, info: Info
    ) -> Annotated[Item, strawberry.lazy("sliceboard.schema.types.item")]:
        return await _item(info, self.row.item_id)


@strawberry.type
class Annotation(LabelledObject):
    row: strawberry.Private[tables.Annotation]

    @strawberry.field
    def iscrowd(self) -> bool:
        return bool(self.row.iscrowd)


@strawberry.type
class Prediction(LabelledObject):
    row: strawberry.Private[tables.Prediction]
    # The IoU threshold its iou/matchedAnnotation refer to (set when paged at another one).
    iou_threshold: strawberry.Private[float] = 0.5

    @strawberry.field
    def confidence(self) -> float | None:
        return self.row.confidence

    @strawberry.field
    def class_pdf(self) -> JSON | None:
        return json_value(self.row.class_pdf) if self.row.class_pdf is not None else None

    @strawberry.field
    def custom_metrics(self) -> list[MetricValue]:
        return [
            MetricValue(name=m["name"], value=float(m["value"]))
            for m in self.row.custom_metrics or []
        ]

    @field(description="IoU with its matched ground truth in the current evaluation.")
    async def iou(self, info: Info) -> float | None:
        from sliceboard.schema.evaluation.browse import prediction_iou

        return await prediction_iou(info, self.row, self.iou_threshold)

    @field(description="The ground truth it matched in the current evaluation.")
    async def matched_annotation(self, info: Info) -> Annotation | None:
        from sliceboard.schema.evaluation.browse import prediction_matched_annotation

        return await prediction_matched_annotation(info, self.row, self.iou_threshold)


@strawberry.type
class AnnotationConnection(Connection[Annotation]):
    pass


@strawberry.type
class PredictionConnection(Connection[Prediction]):
    pass
