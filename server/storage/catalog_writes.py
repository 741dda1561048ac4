"""SQL that creates and deletes the named things: datasets, models, runs, slices, a run's label set.

Creates use ``INSERT ... ON CONFLICT DO NOTHING RETURNING id``: a taken name comes back as None
instead of an IntegrityError, which on PostgreSQL would poison the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from sliceboard.storage.tables import (
    Annotation,
    Dataset,
    Model,
    ModelRun,
    ModelRunLabel,
    Slice,
    core,
    utcnow,
)

DATASET = core(Dataset)
MODEL = core(Model)
MODEL_RUN = core(ModelRun)
SLICE = core(Slice)
ANNOTATION = core(Annotation)
RUN_LABEL = core(ModelRunLabel)
IN_CHUNK = 5_000


async def _insert_unique(
    session: AsyncSession, table: sa.Table, values: dict[str, Any]
) -> int | None:
    """The new row's id, or None when a unique key is already taken."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(table)
        .values(created_at=utcnow(), **values)
        .on_conflict_do_nothing()
        .returning(table.c.id)
    )
    new_id: int | None = (await session.execute(statement)).scalar_one_or_none()
    return new_id


async def insert_dataset(
    *,
    session: AsyncSession,
    name: str,
    metadata: dict[str, Any] | None,
    segmentation_ignore_index: int = 0,
) -> int | None:
    return await _insert_unique(
        session,
        DATASET,
        {
            "name": name,
            "metadata": metadata,
            "segmentation_ignore_index": segmentation_ignore_index,
        },
    )


async def insert_model(
    *, session: AsyncSession, name: str, reference_id: str, metadata: dict[str, Any] | None
) -> int | None:
    return await _insert_unique(
        session, MODEL, {"name": name, "reference_id": reference_id, "metadata": metadata}
    )


async def insert_model_run(
    *, session: AsyncSession, model_id: int, dataset_id: int, name: str
) -> int | None:
    return await _insert_unique(
        session, MODEL_RUN, {"model_id": model_id, "dataset_id": dataset_id, "name": name}
    )


async def insert_slice(
    *,
    session: AsyncSession,
    dataset_id: int,
    name: str,
    filter: dict[str, Any] | None,
    reference_ids: list[str] | None,
) -> int | None:
    return await _insert_unique(
        session,
        SLICE,
        {"dataset_id": dataset_id, "name": name, "filter": filter, "reference_ids": reference_ids},
    )


async def select_dataset(*, session: AsyncSession, dataset_id: int) -> Dataset | None:
    return await session.get(Dataset, dataset_id)


async def select_model(*, session: AsyncSession, model_id: int) -> Model | None:
    return await session.get(Model, model_id)


async def select_model_run(*, session: AsyncSession, model_run_id: int) -> ModelRun | None:
    return await session.get(ModelRun, model_run_id)


async def select_slice(*, session: AsyncSession, slice_id: int) -> Slice | None:
    return await session.get(Slice, slice_id)


async def delete_dataset(*, session: AsyncSession, dataset_id: int) -> bool:
    """Deletes the dataset; its items, annotations, runs, slices... go by ON DELETE CASCADE."""
    result = await session.execute(
        sa.delete(DATASET).where(DATASET.c.id == dataset_id).returning(DATASET.c.id)
    )
    return result.scalar_one_or_none() is not None


async def select_annotation_pks(
    *, session: AsyncSession, dataset_id: int, annotation_ids: Sequence[str]
) -> dict[str, list[int]]:
    """annotationId -> the row ids carrying it in the dataset (one per item that uses the id)."""
    found: dict[str, list[int]] = {}
    for start in range(0, len(annotation_ids), IN_CHUNK):
        chunk = annotation_ids[start : start + IN_CHUNK]
        result = await session.execute(
            sa.select(ANNOTATION.c.annotation_id, ANNOTATION.c.id)
            .where(ANNOTATION.c.dataset_id == dataset_id, ANNOTATION.c.annotation_id.in_(chunk))
            .order_by(ANNOTATION.c.id)
        )
        for key, pk in result.tuples():
            found.setdefault(key, []).append(pk)
    return found


async def select_run_label_pks(*, session: AsyncSession, model_run_id: int) -> set[int]:
    result = await session.execute(
        sa.select(RUN_LABEL.c.annotation_pk).where(RUN_LABEL.c.model_run_id == model_run_id)
    )
    return set(result.scalars().all())


async def insert_run_labels(
    *, session: AsyncSession, model_run_id: int, annotation_pks: Sequence[int]
) -> None:
    if not annotation_pks:
        return
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(RUN_LABEL).on_conflict_do_nothing()
    await session.execute(
        statement, [{"model_run_id": model_run_id, "annotation_pk": pk} for pk in annotation_pks]
    )


async def delete_run_labels(*, session: AsyncSession, model_run_id: int) -> None:
    await session.execute(sa.delete(RUN_LABEL).where(RUN_LABEL.c.model_run_id == model_run_id))


async def set_labels_all(*, session: AsyncSession, model_run: ModelRun, labels_all: bool) -> None:
    await session.execute(
        sa.update(MODEL_RUN).where(MODEL_RUN.c.id == model_run.id).values(labels_all=labels_all)
    )
    set_committed_value(model_run, "labels_all", labels_all)
