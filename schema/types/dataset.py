"""A dataset: its items (filterable, paginated), ground truth, taxonomy, slices and runs."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from sliceboard.schema.child_connection import ONE_PAGE, child_connection, one_page
from sliceboard.schema.context import Info
from sliceboard.schema.fields import field
from sliceboard.schema.filters import ItemFilter, filter_to_dict
from sliceboard.schema.pagination import (
    Connection,
    read_page,
)
from sliceboard.schema.scalars import JSON, json_value, utc
from sliceboard.schema.types.annotation import Annotation, AnnotationConnection
from sliceboard.schema.types.item import ItemConnection, item_connection
from sliceboard.schema.types.named import NamedRow
from sliceboard.schema.types.slice import Slice, SliceConnection
from sliceboard.services import reads
from sliceboard.storage import tables

if TYPE_CHECKING:
    from sliceboard.schema.types.model import ModelRun, ModelRunConnection


@strawberry.type
class Dataset(NamedRow):
    row: strawberry.Private[tables.Dataset]

    @property
    def key(self) -> int:
        assert self.row.id is not None
        return self.row.id

    @strawberry.field
    def metadata(self) -> JSON | None:
        return json_value(self.row.metadata_) if self.row.metadata_ is not None else None

    @strawberry.field
    def created_at(self) -> datetime:
        return utc(self.row.created_at)

    @field(description="The semantic-mask index that means unlabelled.")
    def segmentation_ignore_index(self) -> int:
        return self.row.segmentation_ignore_index

    @field(
        description="Items in upload order, optionally filtered. hasPredictionLabel here matches a prediction of any run."
    )
    async def items(
        self,
        info: Info,
        filter: ItemFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> ItemConnection:
        return await item_connection(
            info, dataset_id=self.key, selection=filter_to_dict(filter), first=first, after=after
        )

    @field(description="Ground truth in upload order, optionally only these labels.")
    async def annotations(
        self,
        info: Info,
        labels: list[str] | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> AnnotationConnection:
        dataset_id = self.key
        return await read_page(
            info,
            AnnotationConnection,
            kind="Annotation",
            node=lambda row: Annotation(row=row),
            rows=lambda s, after_id, limit: reads.page_annotations(
                s, dataset_id=dataset_id, labels=labels, after_id=after_id, limit=limit
            ),
            count=lambda s: reads.count_annotations(s, dataset_id=dataset_id, labels=labels),
            first=first,
            after=after,
        )

    @field(description="The taxonomy: every label seen in its annotations, sorted.")
    async def labels(self, info: Info) -> list[str]:
        return await info.context.loaders.labels_by_dataset.load(self.key)

    @field(description="Its saved slices. " + ONE_PAGE.format(paged="slicesConnection"))
    async def slices(self, info: Info) -> list[Slice]:
        rows = await info.context.loaders.slices_by_dataset.load(self.key)
        return [Slice(row=row) for row in one_page(info, rows)]

    @field(description="Its saved slices, paged, in creation order.")
    async def slices_connection(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> SliceConnection:
        return await child_connection(
            info,
            SliceConnection,
            kind="Slice",
            table=tables.Slice,
            parent={"dataset_id": self.key},
            first=first,
            after=after,
            node=lambda row: Slice(row=row),
        )

    @field(description="Runs of any model on it. " + ONE_PAGE.format(paged="modelRunsConnection"))
    async def model_runs(
        self, info: Info
    ) -> list[Annotated[ModelRun, strawberry.lazy("sliceboard.schema.types.model")]]:
        from sliceboard.schema.types.model import ModelRun

        rows = await info.context.loaders.runs_by_dataset.load(self.key)
        return [ModelRun(row=row) for row in one_page(info, rows)]

    @field(description="Runs of any model on it, paged, in creation order.")
    async def model_runs_connection(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Annotated[ModelRunConnection, strawberry.lazy("sliceboard.schema.types.model")]:
        from sliceboard.schema.types.model import ModelRun, ModelRunConnection

        return await child_connection(
            info,
            ModelRunConnection,
            kind="ModelRun",
            table=tables.ModelRun,
            parent={"dataset_id": self.key},
            first=first,
            after=after,
            node=lambda row: ModelRun(row=row),
        )


@strawberry.type
class DatasetConnection(Connection[Dataset]):
    pass
