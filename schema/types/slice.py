"""A saved slice: a dynamic ItemFilter or a fixed list of referenceIds of one dataset."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from sliceboard.schema.context import Info
from sliceboard.schema.fields import field
from sliceboard.schema.pagination import Connection
from sliceboard.schema.scalars import JSON, json_value
from sliceboard.schema.types.item import ItemConnection, item_connection
from sliceboard.schema.types.named import NamedRow
from sliceboard.services.slices import slice_filter
from sliceboard.storage import tables

if TYPE_CHECKING:
    from sliceboard.schema.types.dataset import Dataset


@strawberry.type
class Slice(NamedRow):
    row: strawberry.Private[tables.Slice]

    @field(description="The saved ItemFilter (GraphQL names), or null for a referenceIds slice.")
    def filter(self) -> JSON | None:
        return json_value(self.row.filter) if self.row.filter is not None else None

    @strawberry.field
    def reference_ids(self) -> list[str] | None:
        return self.row.reference_ids

    @strawberry.field
    async def dataset(
        self, info: Info
    ) -> Annotated[Dataset, strawberry.lazy("sliceboard.schema.types.dataset")]:
        from sliceboard.schema.types.dataset import Dataset

        row = await info.context.loaders.dataset.load(self.row.dataset_id)
        assert row is not None
        return Dataset(row=row)

    @field(description="The items the slice selects now (a filter slice follows new uploads).")
    async def items(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> ItemConnection:
        return await item_connection(
            info,
            dataset_id=self.row.dataset_id,
            selection=slice_filter(self.row),
            first=first,
            after=after,
        )


@strawberry.type
class SliceConnection(Connection[Slice]):
    pass
