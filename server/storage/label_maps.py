"""SQL of semantic masks: stored label maps by digest, item sizes, and who already has a mask."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from sliceboard.storage.tables import (
    Annotation,
    Dataset,
    Item,
    LabelMapBlob,
    ModelRun,
    Prediction,
    core,
    utcnow,
)

LABEL_MAP = core(LabelMapBlob)
ITEM = core(Item)
ANNOTATION = core(Annotation)
PREDICTION = core(Prediction)
DATASET = core(Dataset)
SEMANTIC = "SEMANTIC"


async def insert_label_maps(*, session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Stores each ``{digest, height, width, runs, data}`` not stored yet (same digest: same
    pixels, so an existing row is kept as it is)."""
    if not rows:
        return
    now = utcnow()
    values = [{**row, "created_at": now} for row in rows]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(LABEL_MAP).on_conflict_do_nothing(index_elements=["digest"])
    await session.execute(statement, values)


async def select_label_maps(*, session: AsyncSession, digests: Sequence[str]) -> dict[str, bytes]:
    """digest -> stored bytes, for the digests that exist."""
    found: dict[str, bytes] = {}
    unique = list(dict.fromkeys(digests))
    for start in range(0, len(unique), 500):
        result = await session.execute(
            sa.select(LABEL_MAP.c.digest, LABEL_MAP.c.data).where(
                LABEL_MAP.c.digest.in_(unique[start : start + 500])
            )
        )
        found.update({digest: bytes(data) for digest, data in result.all()})
    return found


async def select_item_sizes(
    *, session: AsyncSession, item_ids: Sequence[int]
) -> dict[int, tuple[int | None, int | None]]:
    """item id -> (height, width) as stored (either may be NULL)."""
    sizes: dict[int, tuple[int | None, int | None]] = {}
    unique = list(dict.fromkeys(item_ids))
    for start in range(0, len(unique), 500):
        result = await session.execute(
            sa.select(ITEM.c.id, ITEM.c.height, ITEM.c.width).where(
                ITEM.c.id.in_(unique[start : start + 500])
            )
        )
        sizes.update({row[0]: (row[1], row[2]) for row in result.all()})
    return sizes


async def select_semantic_keys(
    *, session: AsyncSession, item_ids: Sequence[int], model_run_id: int | None
) -> dict[int, set[str]]:
    """item id -> annotationIds of its semantic masks: ground truth when ``model_run_id`` is
    None, else that run's predictions."""
    table = ANNOTATION if model_run_id is None else PREDICTION
    keys: dict[int, set[str]] = {}
    unique = list(dict.fromkeys(item_ids))
    for start in range(0, len(unique), 500):
        where = [table.c.type == SEMANTIC, table.c.item_id.in_(unique[start : start + 500])]
        if model_run_id is not None:
            where.append(table.c.model_run_id == model_run_id)
        result = await session.execute(
            sa.select(table.c.item_id, table.c.annotation_id).where(*where)
        )
        for item_id, annotation_id in result.all():
            keys.setdefault(item_id, set()).add(annotation_id)
    return keys


async def select_ignore_index(*, session: AsyncSession, dataset_id: int) -> int:
    value = await session.scalar(
        sa.select(DATASET.c.segmentation_ignore_index).where(DATASET.c.id == dataset_id)
    )
    return int(value or 0)


async def select_run_ignore_index(*, session: AsyncSession, run: ModelRun) -> int:
    return await select_ignore_index(session=session, dataset_id=run.dataset_id)
