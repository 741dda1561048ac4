"""Root queries. An id or key that names nothing answers null (DESIGN.md §5)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from sliceboard.schema import jobs
from sliceboard.schema.context import Info
from sliceboard.schema.extensions import PublicError
from sliceboard.schema.fields import field
from sliceboard.schema.pagination import ConnectionT, build_connection, decode_cursor, page_size
from sliceboard.schema.reading import deferred, read
from sliceboard.schema.types.dataset import Dataset, DatasetConnection
from sliceboard.schema.types.model import Model, ModelConnection, ModelRun
from sliceboard.services import reads
from sliceboard.services.ids import parse_id


async def _catalog_page(
    info: Info,
    connection: type[ConnectionT],
    node: Callable[..., object],
    page_rows: Callable[..., Awaitable[Any]],
    count: Callable[[AsyncSession], Awaitable[int]],
    first: int | None,
    after: str | None,
) -> ConnectionT:
    """One page of a top-level catalog (datasets, models) in creation order."""
    kind = node.__name__
    limit, after_id = page_size(info, first), decode_cursor(kind, after)
    page = await read(info, lambda s: page_rows(s, after_id=after_id, limit=limit))
    return build_connection(
        connection,
        kind=kind,
        rows=page.rows,
        has_next=page.has_next,
        after_id=after_id,
        node=lambda row: node(row=row),
        row_id=lambda row: int(row.id or 0),
        count=deferred(info, count),
    )


@strawberry.type
class Query:
    job: jobs.Job | None = strawberry.field(
        resolver=jobs.job, description="null for an id that names no job."
    )

    @field(description="Datasets in creation order.")
    async def datasets(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> DatasetConnection:
        return await _catalog_page(
            info,
            DatasetConnection,
            Dataset,
            reads.page_datasets,
            reads.count_datasets,
            first,
            after,
        )

    @field(description="By id or by name (both given: they must name the same dataset).")
    async def dataset(
        self, info: Info, id: strawberry.ID | None = None, name: str | None = None
    ) -> Dataset | None:
        if id is None and name is None:
            raise PublicError("give `id` or `name`", code="BAD_USER_INPUT")
        if id is not None:
            key = parse_id(id)
            row = await info.context.loaders.dataset.load(key) if key is not None else None
        else:
            row = await read(info, lambda s: reads.dataset_by_name(s, name=str(name)))
        if row is None or (name is not None and row.name != name):
            return None
        return Dataset(row=row)

    @field(description="Models in creation order.")
    async def models(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> ModelConnection:
        return await _catalog_page(
            info, ModelConnection, Model, reads.page_models, reads.count_models, first, after
        )

    @field(description="By id or by referenceId (both given: they must name the same model).")
    async def model(
        self, info: Info, id: strawberry.ID | None = None, reference_id: str | None = None
    ) -> Model | None:
        if id is None and reference_id is None:
            raise PublicError("give `id` or `referenceId`", code="BAD_USER_INPUT")
        if id is not None:
            key = parse_id(id)
            row = await info.context.loaders.model.load(key) if key is not None else None
        else:
            row = await read(
                info, lambda s: reads.model_by_reference_id(s, reference_id=str(reference_id))
            )
        if row is None or (reference_id is not None and row.reference_id != reference_id):
            return None
        return Model(row=row)

    @strawberry.field
    async def model_run(self, info: Info, id: strawberry.ID) -> ModelRun | None:
        key = parse_id(id)
        row = await info.context.loaders.model_run.load(key) if key is not None else None
        return ModelRun(row=row) if row is not None else None
