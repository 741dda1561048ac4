"""A saved slice: a dynamic ItemFilter or a fixed list of referenceIds of one dataset."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from schema.context import Info
from schema.fields import field
from schema.pagination import build_connection, decode_cursor, page_size
from schema.reading import deferred, read
from schema.scalars import JSON, json_value
from schema.types.item import Item, ItemConnection
from server.services import reads
from server.services.slices import slice_filter
from server.storage import tables

if TYPE_CHECKING:
    from schema.types.dataset import Dataset


@strawberry.type
class Slice:
    row: strawberry.Private[tables.Slice]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.row.id))

    @strawberry.field
    def name(self) -> str:
        return self.row.name

    @field(description="The saved ItemFilter (GraphQL names), or null for a referenceIds slice.")
    def filter(self) -> JSON | None:
        return json_value(self.row.filter) if self.row.filter is not None else None

    @strawberry.field
    def reference_ids(self) -> list[str] | None:
        return self.row.reference_ids

    @strawberry.field
    async def dataset(
        self, info: Info
    ) -> Annotated[Dataset, strawberry.lazy("schema.types.dataset")]:
        from schema.types.dataset import Dataset

        row = await info.context.loaders.dataset.load(self.row.dataset_id)
        assert row is not None
        return Dataset(row=row)

    @field(description="The items the slice selects now (a filter slice follows new uploads).")
    async def items(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> ItemConnection:
        limit, after_id = page_size(info, first), decode_cursor("Item", after)
        selection = slice_filter(self.row)
        dataset_id = self.row.dataset_id
        page = await read(
            info,
            lambda s: reads.page_items(
                s, dataset_id=dataset_id, filter=selection, after_id=after_id, limit=limit
            ),
        )
        return build_connection(
            ItemConnection,
            kind="Item",
            rows=page.rows,
            has_next=page.has_next,
            after_id=after_id,
            node=lambda row: Item(row=row),
            row_id=lambda row: int(row.id or 0),
            count=deferred(
                info, lambda s: reads.count_items(s, dataset_id=dataset_id, filter=selection)
            ),
        )
