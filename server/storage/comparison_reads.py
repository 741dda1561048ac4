"""Reads a run comparison needs beyond the evaluation snapshots: the ground-truth set a run is
judged against, item metadata (to group items by their most frequent values) and the saved
slices of a dataset."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sliceboard.storage.tables import Item, ModelRunLabel, Slice, core

ITEM = core(Item)
RUN_LABEL = core(ModelRunLabel)
SLICE = core(Slice)


async def select_run_label_annotations(*, session: AsyncSession, model_run_id: int) -> list[int]:
    """Annotation row ids of a run's explicit ground-truth set (``labels_all`` False), ascending."""
    rows = await session.execute(
        sa.select(RUN_LABEL.c.annotation_pk)
        .where(RUN_LABEL.c.model_run_id == model_run_id)
        .order_by(RUN_LABEL.c.annotation_pk)
    )
    return [int(v) for v in rows.scalars().all()]


async def select_item_metadata(
    *, session: AsyncSession, dataset_id: int
) -> list[tuple[int, dict[str, Any] | None]]:
    """(item row id, metadata) of every item of the dataset, by id."""
    rows = await session.execute(
        sa.select(ITEM.c.id, ITEM.c.metadata)
        .where(ITEM.c.dataset_id == dataset_id)
        .order_by(ITEM.c.id)
    )
    return [(int(row[0]), row[1]) for row in rows.all()]


async def select_dataset_slices(
    *, session: AsyncSession, dataset_id: int, limit: int
) -> list[tuple[int, str]]:
    """(slice row id, name) of the dataset's saved slices in creation order, at most ``limit``."""
    rows = await session.execute(
        sa.select(SLICE.c.id, SLICE.c.name)
        .where(SLICE.c.dataset_id == dataset_id)
        .order_by(SLICE.c.id)
        .limit(limit)
    )
    return [(int(row[0]), str(row[1])) for row in rows.all()]
