"""A data row (image, point cloud) with its ground truth and, per run, its predictions."""

from __future__ import annotations

from typing import Any

import strawberry

from sliceboard.schema.child_connection import CAPPED, capped, child_connection
from sliceboard.schema.context import Info
from sliceboard.schema.fields import field
from sliceboard.schema.pagination import (
    Connection,
    read_page,
)
from sliceboard.schema.scalars import JSON, json_value
from sliceboard.schema.types.annotation import (
    Annotation,
    AnnotationConnection,
    Prediction,
    PredictionConnection,
)
from sliceboard.services import reads
from sliceboard.services.ids import parse_id
from sliceboard.storage import tables


@strawberry.type
class Item:
    row: strawberry.Private[tables.Item]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.row.id))

    @field(description="The user's key, unique within the dataset.")
    def reference_id(self) -> str:
        return self.row.reference_id

    @strawberry.field
    def url(self) -> str | None:
        return self.row.url

    @strawberry.field
    def width(self) -> int | None:
        return self.row.width

    @strawberry.field
    def height(self) -> int | None:
        return self.row.height

    @strawberry.field
    def metadata(self) -> JSON | None:
        return json_value(self.row.metadata_) if self.row.metadata_ is not None else None

    @field(description="Its ground truth. " + CAPPED.format(paged="annotationsConnection"))
    async def annotations(self, info: Info) -> list[Annotation]:
        assert self.row.id is not None
        rows = await info.context.loaders.annotations_by_item.load(self.row.id)
        return [Annotation(row=row) for row in capped(info, rows)]

    @field(description="Its ground truth, paged, in id order.")
    async def annotations_connection(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> AnnotationConnection:
        return await child_connection(
            info,
            AnnotationConnection,
            kind="Annotation",
            table=tables.Annotation,
            parent={"item_id": int(self.row.id or 0)},
            first=first,
            after=after,
            node=lambda row: Annotation(row=row),
        )

    @field(
        description="This item's predictions in one model run (empty for an unknown run). "
        + CAPPED.format(paged="predictionsConnection")
    )
    async def predictions(self, info: Info, model_run_id: strawberry.ID) -> list[Prediction]:
        run_id = parse_id(model_run_id)
        if run_id is None or self.row.id is None:
            return []
        rows = await info.context.loaders.predictions_by_item.load((run_id, self.row.id))
        return [Prediction(row=row) for row in capped(info, rows)]

    @field(description="This item's predictions in one model run, paged, in id order.")
    async def predictions_connection(
        self,
        info: Info,
        model_run_id: strawberry.ID,
        first: int | None = None,
        after: str | None = None,
    ) -> PredictionConnection:
        run_id = parse_id(model_run_id)
        return await child_connection(
            info,
            PredictionConnection,
            kind="Prediction",
            table=tables.Prediction,
            parent={
                "model_run_id": -1 if run_id is None else run_id,
                "item_id": int(self.row.id or 0),
            },
            first=first,
            after=after,
            node=lambda row: Prediction(row=row),
        )


@strawberry.type
class ItemConnection(Connection[Item]):
    pass


async def item_connection(
    info: Info,
    *,
    dataset_id: int,
    selection: dict[str, Any] | None,
    first: int | None,
    after: str | None,
) -> ItemConnection:
    """A page of a dataset's items that match ``selection`` (an ItemFilter dict, or all)."""
    return await read_page(
        info,
        ItemConnection,
        kind="Item",
        node=lambda row: Item(row=row),
        rows=lambda s, after_id, limit: reads.page_items(
            s, dataset_id=dataset_id, filter=selection, after_id=after_id, limit=limit
        ),
        count=lambda s: reads.count_items(s, dataset_id=dataset_id, filter=selection),
        first=first,
        after=after,
    )
