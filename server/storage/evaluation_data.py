"""Reads a model run's ground truth and predictions as columns, in the order the engine needs.

Items come by row id with their referenceIds (the engine orders them by referenceId, which
breaks score ties across items: ``sliceboard.services.evaluation.item_order``); predictions
and ground truth by row id (upload order: COCO breaks score ties inside an image by it). When every object is a box, the box coordinates
are extracted by the database (``geometry -> 'x'`` as a float) instead of decoding one JSON
document per row in Python, which is most of the load time of a large run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from sliceboard.storage.label_maps import SEMANTIC, select_ignore_index, select_label_maps
from sliceboard.storage.tables import Annotation, Item, ModelRun, ModelRunLabel, Prediction, core

ITEM = core(Item)
ANNOTATION = core(Annotation)
PREDICTION = core(Prediction)
RUN_LABEL = core(ModelRunLabel)
BOX_FIELDS = ("x", "y", "width", "height", "rotation")


@dataclass(frozen=True)
class ObjectRows:
    """One entry per annotation or prediction, as compact arrays.

    Arrays, not Python lists, because the rows cross to a worker process: pickling 400k-element
    lists held the GIL for ~0.1 s and stalled the server's event loop; arrays pickle as buffers.
    Labels and types are codes into ``label_names``/``type_names``; a NaN area or confidence
    was not given. ``boxes`` float64 (n, 5) [x, y, width, height, rotation] replaces
    ``geometries`` (then empty) when every object of the run is a box.
    """

    ids: np.ndarray  # int64 (n,)
    item_ids: np.ndarray  # int64 (n,)
    label_codes: np.ndarray  # int32 (n,)
    label_names: list[str]
    type_codes: np.ndarray  # int32 (n,)
    type_names: list[str]
    geometries: list[Any]
    areas: np.ndarray  # float64 (n,)
    iscrowd: np.ndarray  # bool (n,)
    confidences: np.ndarray  # float64 (n,)
    boxes: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    @property
    def types(self) -> list[str]:
        return [self.type_names[c] for c in self.type_codes.tolist()]

    def type_set(self) -> set[str]:
        return {self.type_names[c] for c in np.unique(self.type_codes).tolist()}

    @classmethod
    def from_lists(
        cls,
        *,
        ids: Sequence[int],
        item_ids: Sequence[int],
        labels: Sequence[str],
        types: Sequence[str],
        geometries: Sequence[Any] = (),
        areas: Sequence[float | None],
        iscrowd: Sequence[bool],
        confidences: Sequence[float | None],
        boxes: np.ndarray | None = None,
    ) -> ObjectRows:
        builder = _Builder(boxes=boxes is not None)
        builder.add(ids, item_ids, labels, types, areas, iscrowd, confidences, list(geometries))
        rows = builder.build()
        return rows if boxes is None else replace(rows, boxes=np.asarray(boxes, dtype=np.float64))


def _nan_for_none(values: Sequence[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


class _Builder:
    """Accumulates rows a partition at a time, coding labels and types as it goes."""

    def __init__(self, *, boxes: bool) -> None:
        self.boxes = boxes
        self.parts: dict[str, list[np.ndarray]] = {
            k: []
            for k in (
                "ids",
                "item_ids",
                "labels",
                "types",
                "areas",
                "iscrowd",
                "confidences",
                "boxes",
            )
        }
        self.labels: dict[str, int] = {}
        self.types: dict[str, int] = {}
        self.geometries: list[Any] = []

    def add(
        self,
        ids: Sequence[int],
        item_ids: Sequence[int],
        labels: Sequence[str],
        types: Sequence[str],
        areas: Sequence[float | None],
        iscrowd: Sequence[Any],
        confidences: Sequence[float | None],
        shape: Sequence[Any],
    ) -> None:
        label_code, type_code = self.labels, self.types
        self.parts["ids"].append(np.array(ids, dtype=np.int64))
        self.parts["item_ids"].append(np.array(item_ids, dtype=np.int64))
        self.parts["labels"].append(
            np.array([label_code.setdefault(v, len(label_code)) for v in labels], dtype=np.int32)
        )
        self.parts["types"].append(
            np.array([type_code.setdefault(v, len(type_code)) for v in types], dtype=np.int32)
        )
        self.parts["areas"].append(_nan_for_none(areas))
        self.parts["iscrowd"].append(np.array([bool(v) for v in iscrowd], dtype=bool))
        self.parts["confidences"].append(_nan_for_none(confidences))
        if self.boxes:
            if len(shape):
                box = np.array(shape, dtype=np.float64).reshape(len(ids), len(BOX_FIELDS))
                box[:, 4] = np.nan_to_num(box[:, 4])  # a missing rotation is 0
                self.parts["boxes"].append(box)
        else:
            self.geometries.extend(shape)

    def build(self) -> ObjectRows:
        def joined(name: str, dtype: Any) -> np.ndarray:
            parts = self.parts[name]
            return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)

        boxes = None
        if self.boxes:
            parts = self.parts["boxes"]
            boxes = np.concatenate(parts) if parts else np.zeros((0, len(BOX_FIELDS)))
        return ObjectRows(
            ids=joined("ids", np.int64),
            item_ids=joined("item_ids", np.int64),
            label_codes=joined("labels", np.int32),
            label_names=list(self.labels),
            type_codes=joined("types", np.int32),
            type_names=list(self.types),
            geometries=self.geometries,
            areas=joined("areas", np.float64),
            iscrowd=joined("iscrowd", bool),
            confidences=joined("confidences", np.float64),
            boxes=boxes,
        )


@dataclass(frozen=True)
class SemanticRows:
    """Semantic masks of one side: row ids, their items, mask digests and segments
    (``[{index, label, metadata}]``), by row id."""

    ids: list[int]
    item_ids: list[int]
    digests: list[str]
    segments: list[list[dict[str, Any]]]

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class SemanticData:
    """A run's semantic masks (they never enter ``ObjectRows``) and the stored label maps."""

    ground_truth: SemanticRows
    predictions: SemanticRows
    label_maps: dict[str, bytes]  # digest -> stored label map
    ignore_index: int


@dataclass(frozen=True)
class RunData:
    item_ids: list[int]  # the dataset's item row ids, ascending
    item_reference_ids: list[str]  # the referenceId of each of ``item_ids``
    item_sizes: dict[int, tuple[int | None, int | None]]  # item id -> (height, width)
    ground_truth: ObjectRows
    predictions: ObjectRows
    semantic: SemanticData | None = None  # None: the run has no semantic mask


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
    """Reads ``query`` in partitions, coding each as it arrives: the event loop gets a turn
    between partitions, so a large run does not stall other requests while it loads."""
    builder = _Builder(boxes=boxes)
    result = await session.stream(query)
    async for partition in result.partitions(PARTITION):
        columns = list(zip(*partition, strict=True))
        n = len(partition)
        shape = list(zip(*columns[6:], strict=True)) if boxes else list(columns[6])
        last = columns[5]
        builder.add(
            columns[0],
            columns[1],
            columns[2],
            columns[3],
            columns[4],
            last if crowd else [False] * n,
            [None] * n if crowd else last,
            shape,
        )
    return builder.build()


async def load_run_data(*, session: AsyncSession, run: ModelRun) -> RunData:
    items = (
        await session.execute(
            sa.select(ITEM.c.id, ITEM.c.height, ITEM.c.width, ITEM.c.reference_id)
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
    semantic = await _load_semantic(session, run, gt_where, dt_where)
    gt_where.append(ANNOTATION.c.type != SEMANTIC)
    dt_where.append(PREDICTION.c.type != SEMANTIC)
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
        item_reference_ids=[row[3] for row in items],
        item_sizes={row[0]: (row[1], row[2]) for row in items},
        ground_truth=ground_truth,
        predictions=predictions,
        semantic=semantic,
    )


async def _semantic_rows(session: AsyncSession, table: sa.Table, where: list[Any]) -> SemanticRows:
    result = await session.execute(
        sa.select(table.c.id, table.c.item_id, table.c.geometry)
        .where(*where, table.c.type == SEMANTIC)
        .order_by(table.c.id)
    )
    rows = result.all()
    return SemanticRows(
        ids=[row[0] for row in rows],
        item_ids=[row[1] for row in rows],
        digests=[row[2]["mask"] for row in rows],
        segments=[row[2]["segments"] for row in rows],
    )


async def _load_semantic(
    session: AsyncSession, run: ModelRun, gt_where: list[Any], dt_where: list[Any]
) -> SemanticData | None:
    ground_truth = await _semantic_rows(session, ANNOTATION, gt_where)
    predictions = await _semantic_rows(session, PREDICTION, dt_where)
    if not len(ground_truth) and not len(predictions):
        return None
    digests = list(dict.fromkeys(ground_truth.digests + predictions.digests))
    label_maps = await select_label_maps(session=session, digests=digests)
    ignore_index = await select_ignore_index(session=session, dataset_id=run.dataset_id)
    return SemanticData(ground_truth, predictions, label_maps, ignore_index)


async def load_run_predictions(
    *, session: AsyncSession, run: ModelRun
) -> tuple[ObjectRows, dict[int, tuple[int | None, int | None]]]:
    """A run's predictions with their geometry (by row id) and its items' (height, width)."""
    items = (
        await session.execute(
            sa.select(ITEM.c.id, ITEM.c.height, ITEM.c.width).where(
                ITEM.c.dataset_id == run.dataset_id
            )
        )
    ).all()
    where = [PREDICTION.c.model_run_id == run.id, PREDICTION.c.type != SEMANTIC]
    types = (
        (await session.execute(sa.select(PREDICTION.c.type).where(*where).distinct()))
        .scalars()
        .all()
    )
    boxes = set(types) == {"BOX"}
    rows = await _stream_rows(
        session,
        sa.select(*_columns(PREDICTION, boxes=boxes, last="confidence"))
        .where(*where)
        .order_by(PREDICTION.c.id),
        boxes=boxes,
        crowd=False,
    )
    return rows, {row[0]: (row[1], row[2]) for row in items}
