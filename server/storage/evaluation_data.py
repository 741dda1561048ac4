"""Reads a model run's ground truth and predictions as columns, in the order the engine needs.

Items are ordered by row id (upload order), predictions by row id (upload order: COCO breaks
score ties by it), ground truth by row id. Geometry stays as the stored JSON; turning it into
kernel inputs is the evaluation service's job.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from server.storage.tables import Annotation, Item, ModelRun, ModelRunLabel, Prediction, core

ITEM = core(Item)
ANNOTATION = core(Annotation)
PREDICTION = core(Prediction)
RUN_LABEL = core(ModelRunLabel)


@dataclass(frozen=True)
class ObjectRows:
    """Parallel lists, one entry per annotation or prediction."""

    ids: list[int]
    item_ids: list[int]
    labels: list[str]
    types: list[str]
    geometries: list[Any]
    areas: list[float | None]
    iscrowd: list[bool]
    confidences: list[float | None]


@dataclass(frozen=True)
class RunData:
    item_ids: list[int]
    item_sizes: dict[int, tuple[int | None, int | None]]  # item id -> (height, width)
    ground_truth: ObjectRows
    predictions: ObjectRows


def _rows(result: Iterable[Sequence[Any]], *, with_confidence: bool) -> ObjectRows:
    ids: list[int] = []
    item_ids: list[int] = []
    labels: list[str] = []
    types: list[str] = []
    geometries: list[Any] = []
    areas: list[float | None] = []
    iscrowd: list[bool] = []
    confidences: list[float | None] = []
    for row in result:
        ids.append(row[0])
        item_ids.append(row[1])
        labels.append(row[2])
        types.append(row[3])
        geometries.append(row[4])
        areas.append(row[5])
        if with_confidence:
            confidences.append(row[6])
            iscrowd.append(False)
        else:
            iscrowd.append(bool(row[6]))
            confidences.append(None)
    return ObjectRows(ids, item_ids, labels, types, geometries, areas, iscrowd, confidences)


async def load_run_data(*, session: AsyncSession, run: ModelRun) -> RunData:
    items = (
        await session.execute(
            sa.select(ITEM.c.id, ITEM.c.height, ITEM.c.width)
            .where(ITEM.c.dataset_id == run.dataset_id)
            .order_by(ITEM.c.id)
        )
    ).all()
    gt_query = (
        sa.select(
            ANNOTATION.c.id,
            ANNOTATION.c.item_id,
            ANNOTATION.c.label,
            ANNOTATION.c.type,
            ANNOTATION.c.geometry,
            ANNOTATION.c.area,
            ANNOTATION.c.iscrowd,
        )
        .where(ANNOTATION.c.dataset_id == run.dataset_id)
        .order_by(ANNOTATION.c.id)
    )
    if not run.labels_all:
        gt_query = gt_query.where(
            ANNOTATION.c.id.in_(
                sa.select(RUN_LABEL.c.annotation_pk).where(RUN_LABEL.c.model_run_id == run.id)
            )
        )
    ground_truth = _rows(await session.execute(gt_query), with_confidence=False)
    predictions = _rows(
        await session.execute(
            sa.select(
                PREDICTION.c.id,
                PREDICTION.c.item_id,
                PREDICTION.c.label,
                PREDICTION.c.type,
                PREDICTION.c.geometry,
                PREDICTION.c.area,
                PREDICTION.c.confidence,
            )
            .where(PREDICTION.c.model_run_id == run.id)
            .order_by(PREDICTION.c.id)
        ),
        with_confidence=True,
    )
    return RunData(
        item_ids=[row[0] for row in items],
        item_sizes={row[0]: (row[1], row[2]) for row in items},
        ground_truth=ground_truth,
        predictions=predictions,
    )
