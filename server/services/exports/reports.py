"""Exports of a run's visible evaluation: the metrics report (JSON, CSV) and the match table
(CSV, Parquet) at the chosen IoU and confidence thresholds, over the filter and slice.

The match table has one row per prediction and one per ground truth of the selected items
(COCO's greedy matching at the IoU threshold, all areas): item referenceId, side, object
annotationId, label, confidence, the matched object's annotationId, IoU and the outcome.
A prediction is TP or FP (IGNORED: it matched a crowd or ignored object; NOT_EVALUATED:
beyond maxDets; BELOW_CONFIDENCE: under the confidence threshold); a ground truth is TP
(matched by a prediction at or above the confidence threshold), FN, or IGNORED (crowd, or
ignored by the evaluation). Parquet needs pyarrow (``pip install 'sliceboard[parquet]'``).
"""

from __future__ import annotations

import csv
import io
from typing import Any

import numpy as np
import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from sliceboard.errors import FailedPrecondition, NotFound
from sliceboard.services import reads
from sliceboard.services.evaluation.cache import SnapshotCache, selected_items, visible_snapshot
from sliceboard.services.evaluation.results import metrics_report
from sliceboard.services.exports.service import LimitedWriter
from sliceboard.storage import tables
from sliceboard.storage.tables import ModelRun

LABEL_COLUMNS = (
    "label",
    "ap",
    "ap50",
    "ar",
    "precision",
    "recall",
    "f1",
    "true_positives",
    "false_positives",
    "false_negatives",
)
MATCH_COLUMNS = (
    "item",
    "side",
    "annotation_id",
    "label",
    "confidence",
    "matched_annotation_id",
    "iou",
    "outcome",
)
STATES = {-1: "NOT_EVALUATED", 0: "FP", 1: "TP", 2: "IGNORED"}


async def _run(session: AsyncSession, payload: dict[str, Any]) -> ModelRun:
    run = await reads.row_by_id(session, table=ModelRun, id=int(payload["modelRunId"]))
    if run is None:
        raise NotFound("ModelRun", payload["modelRunId"], "input.modelRunId")
    return run


async def write_report(
    session: AsyncSession, cache: SnapshotCache, payload: dict[str, Any], out: LimitedWriter
) -> None:
    format = payload["format"]
    run = await _run(session, payload)
    if format in ("METRICS_JSON", "METRICS_CSV"):
        report = await metrics_report(
            session,
            cache,
            run=run,
            filter=payload.get("filter"),
            slice_id=payload.get("sliceId"),
            iou_threshold=float(payload["iouThreshold"]),
            confidence_threshold=float(payload["confidenceThreshold"]),
            labels=None,
        )
        coco = await report.coco()
        rows = await report.per_label()
        if format == "METRICS_JSON":
            document = {
                "modelRunId": str(run.id),
                "iouThreshold": payload["iouThreshold"],
                "confidenceThreshold": payload["confidenceThreshold"],
                "items": report.item_count,
                "groundTruths": report.ground_truth_count,
                "predictions": report.prediction_count,
                "coco": {_camel(k): v for k, v in coco.items()},
                "perLabel": [
                    {_camel(name): getattr(r, name) for name in LABEL_COLUMNS} for r in rows
                ],
            }
            out.write(
                orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY)
            )
            return
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(LABEL_COLUMNS)
        for r in rows:
            writer.writerow(["" if getattr(r, n) is None else getattr(r, n) for n in LABEL_COLUMNS])
        out.write(text.getvalue().encode())
        return
    table = await match_rows(session, cache, run, payload)
    if format == "MATCHES_CSV":
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(MATCH_COLUMNS)
        for row in zip(*(table[c] for c in MATCH_COLUMNS), strict=True):
            writer.writerow(["" if v is None else v for v in row])
            if text.tell() > 1 << 20:
                out.write(text.getvalue().encode())
                text.seek(0)
                text.truncate()
        out.write(text.getvalue().encode())
        return
    try:
        import pyarrow as pa  # type: ignore[import-not-found, import-untyped, unused-ignore]
        import pyarrow.parquet as pq  # type: ignore[import-not-found, import-untyped, unused-ignore]
    except ImportError as exc:
        raise FailedPrecondition(
            "Parquet exports need pyarrow on the server: pip install 'sliceboard[parquet]'"
        ) from exc
    buffer = io.BytesIO()
    pq.write_table(pa.table({c: table[c] for c in MATCH_COLUMNS}), buffer)
    out.write(buffer.getvalue())


def _camel(name: str) -> str:
    """The GraphQL field name (``ap_small`` -> ``apSmall``), so the file reads like a query."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


async def match_rows(
    session: AsyncSession, cache: SnapshotCache, run: ModelRun, payload: dict[str, Any]
) -> dict[str, list[Any]]:
    """The match table's columns (see the module docstring)."""
    iou_threshold = float(payload["iouThreshold"])
    confidence = float(payload["confidenceThreshold"])
    evaluation_id, snapshot = await visible_snapshot(session, cache, run)
    table = snapshot.table
    row = table.row_index(iou_threshold, 0)
    t0 = int(np.searchsorted(table.all_rows, row))
    selection = await selected_items(
        session,
        snapshot,
        run,
        payload.get("filter"),
        payload.get("sliceId"),
        cache=cache,
        evaluation_id=evaluation_id,
    )
    mask = None if selection is None else selection.mask
    dt_rows, gt_rows = table.item_rows(mask)
    dt_rows, gt_rows = np.sort(dt_rows), np.sort(gt_rows)
    dt_gt = table.dt_gt[t0]
    dt_iou = table.dt_iou[t0]
    gt_dt = table.gt_dt[t0]
    dt_keys = await _keys(session, tables.Prediction, snapshot.dt_ids[dt_rows].tolist())
    gt_keys = await _keys(session, tables.Annotation, snapshot.gt_ids[gt_rows].tolist())
    item_refs = await _item_refs(session, snapshot.item_ids.tolist())
    all_gt_keys = gt_keys
    matched_gt = [int(g) for g in dt_gt[dt_rows].tolist() if g >= 0]
    missing = [
        int(snapshot.gt_ids[g]) for g in matched_gt if int(snapshot.gt_ids[g]) not in gt_keys
    ]
    if missing:
        all_gt_keys = {**gt_keys, **await _keys(session, tables.Annotation, missing)}
    matched_dt = [int(p) for p in gt_dt[gt_rows].tolist() if p >= 0]
    extra_dt = [
        int(snapshot.dt_ids[p]) for p in matched_dt if int(snapshot.dt_ids[p]) not in dt_keys
    ]
    all_dt_keys = {
        **dt_keys,
        **(await _keys(session, tables.Prediction, extra_dt) if extra_dt else {}),
    }
    columns: dict[str, list[Any]] = {c: [] for c in MATCH_COLUMNS}
    names = snapshot.label_names
    for p in dt_rows.tolist():
        g = int(dt_gt[p])
        score = float(table.dt_score[p])
        state = STATES.get(int(table.dt_state[row, p]), "FP")
        if score < confidence:
            state = "BELOW_CONFIDENCE"
        columns["item"].append(item_refs.get(int(snapshot.item_ids[table.dt_item[p]])))
        columns["side"].append("prediction")
        columns["annotation_id"].append(all_dt_keys.get(int(snapshot.dt_ids[p])))
        columns["label"].append(names[int(table.dt_label[p])])
        columns["confidence"].append(score)
        columns["matched_annotation_id"].append(
            all_gt_keys.get(int(snapshot.gt_ids[g])) if g >= 0 else None
        )
        columns["iou"].append(float(dt_iou[p]) if g >= 0 else None)
        columns["outcome"].append(state)
    for g in gt_rows.tolist():
        p = int(gt_dt[g])
        ignored = bool(table.gt_iscrowd[g] or table.gt_ignore[g])
        hit = p >= 0 and float(table.dt_score[p]) >= confidence
        columns["item"].append(item_refs.get(int(snapshot.item_ids[table.gt_item[g]])))
        columns["side"].append("ground_truth")
        columns["annotation_id"].append(all_gt_keys.get(int(snapshot.gt_ids[g])))
        columns["label"].append(names[int(table.gt_label[g])])
        columns["confidence"].append(None)
        columns["matched_annotation_id"].append(
            all_dt_keys.get(int(snapshot.dt_ids[p])) if hit else None
        )
        columns["iou"].append(float(dt_iou[p]) if hit else None)
        columns["outcome"].append("IGNORED" if ignored else ("TP" if hit else "FN"))
    return columns


ID_BATCH = 5_000  # keeps each IN list under SQLite's bound-parameter limit


async def _rows(session: AsyncSession, table: Any, ids: list[int]) -> list[Any]:
    found: list[Any] = []
    for start in range(0, len(ids), ID_BATCH):
        batch = ids[start : start + ID_BATCH]
        found.extend(await reads.rows_in_key_order(session, table=table, ids=batch))
    return [row for row in found if row is not None]


async def _keys(session: AsyncSession, table: Any, ids: list[int]) -> dict[int, str]:
    return {row.id: row.annotation_id for row in await _rows(session, table, ids)}


async def _item_refs(session: AsyncSession, ids: list[int]) -> dict[int, str]:
    return {row.id: row.reference_id for row in await _rows(session, tables.Item, ids)}
