"""Reads a model run's ground truth and predictions as columns, in the order the engine needs.

Items are ordered by row id (upload order), predictions by row id (upload order: COCO breaks
score ties by it), ground truth by row id. When every object is a box, the box coordinates
are extracted by the database (``geometry -> 'x'`` as a float) instead of decoding one JSON
document per row in Python, which is most of the load time of a large run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from server.storage.tables import Annotation, Item, ModelRun, ModelRunLabel, Prediction, core

ITEM = core(Item)
ANNOTATION = core(Annotation)
PREDICTION = core(Prediction)
RUN_LABEL = core(ModelRunLabel)
BOX_FIELDS = ("x", "y", "width", "height", "rotation")


@dataclass(frozen=True)
class ObjectRows:
    """Parallel lists, one entry per annotation or prediction.

    ``boxes`` float64 (n, 5) [x, y, width, height, rotation] replaces ``geometries`` (then
    empty) when every object of the run is a box.
    """

    ids: list[int]
    item_ids: list[int]
    labels: list[str]
    types: list[str]
    geometries: list[Any]
    areas: list[float | None]
    iscrowd: list[bool]
    confidences: list[float | None]
    boxes: np.ndarray | None = None


@dataclass(frozen=True)
class RunData:
    item_ids: list[int]
    item_sizes: dict[int, tuple[int | None, int | None]]  # item id -> (height, width)
    ground_truth: ObjectRows
    predictions: ObjectRows


def _columns(table: sa.Table, *, boxes: bool, last: str) -> list[Any]:
    shape: list[Any]
    if boxes:
        shape = [table.c.geometry[name].as_float() for name in BOX_FIELDS]
    else:
        shape = [table.c.geometry]
    return [
        table.c.id, table.c.item_id, table.c.label, table.c.type, table.c.area, table.c[last], *shape,
    ]  # fmt: skip


PARTITION = 5_000


async def _stream_rows(
    session: AsyncSession, query: sa.Select[Any], *, boxes: bool, crowd: bool
) -> ObjectRows:
    """Reads ``query`` in partitions, transposing each as it arrives: the event loop gets a turn
    between partitions, so a large run does not stall other requests while it loads."""
    width = 6 + (len(BOX_FIELDS) if boxes else 1)
    columns: list[list[Any]] = [[] for _ in range(width)]
    result = await session.stream(query)
    async for partition in result.partitions(PARTITION):
        for column, values in zip(columns, zip(*partition, strict=True), strict=True):
            column.extend(values)
    n = len(columns[0])
    last = columns[5]
    box_array = None
    geometries: list[Any] = []
    if boxes:
        box_array = np.array(columns[6:], dtype=np.float64).T.reshape(n, len(BOX_FIELDS))
        box_array[:, 4] = np.nan_to_num(box_array[:, 4])  # a missing rotation is 0
    else:
        geometries = columns[6]
    return ObjectRows(
        ids=columns[0],
        item_ids=columns[1],
        labels=columns[2],
        types=columns[3],
        geometries=geometries,
        areas=columns[4],
        iscrowd=[bool(v) for v in last] if crowd else [False] * n,
        confidences=[None] * n if crowd else last,
        boxes=box_array,
    )


async def load_run_data(*, session: AsyncSession, run: ModelRun) -> RunData:
    items = (
        await session.execute(
            sa.select(ITEM.c.id, ITEM.c.height, ITEM.c.width)
            .where(ITEM.c.dataset_id == run.dataset_id)
            .order_by(ITEM.c.id)
        )
    ).all()
    gt_where: list[Any] = [ANNOTATION.c.dataset_id == run.dataset_id]
    if not run.labels_all:
        gt_where.append(
            ANNOTATION.c.id.in_(
                sa.select(RUN_LABEL.c.annotation_pk).where(RUN_LABEL.c.model_run_id == run.id)
            )
        )
    dt_where = [PREDICTION.c.model_run_id == run.id]
    gt_types = (
        (await session.execute(sa.select(ANNOTATION.c.type).where(*gt_where).distinct()))
        .scalars()
        .all()
    )
    dt_types = (
        (await session.execute(sa.select(PREDICTION.c.type).where(*dt_where).distinct()))
        .scalars()
        .all()
    )
    boxes = set(gt_types) | set(dt_types) == {"BOX"}
    ground_truth = await _stream_rows(
        session,
        sa.select(*_columns(ANNOTATION, boxes=boxes, last="iscrowd"))
        .where(*gt_where)
        .order_by(ANNOTATION.c.id),
        boxes=boxes,
        crowd=True,
    )
    predictions = await _stream_rows(
        session,
        sa.select(*_columns(PREDICTION, boxes=boxes, last="confidence"))
        .where(*dt_where)
        .order_by(PREDICTION.c.id),
        boxes=boxes,
        crowd=False,
    )
    return RunData(
        item_ids=[row[0] for row in items],
        item_sizes={row[0]: (row[1], row[2]) for row in items},
        ground_truth=ground_truth,
        predictions=predictions,
    )
