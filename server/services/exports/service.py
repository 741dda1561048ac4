"""Export use cases: check and queue an export, and write its file.

Rows are read a page of items at a time (with their annotations or predictions), so an export
holds one page in memory whatever the dataset's size. COCO image ids are the items' ``cocoId``
metadata (set by a COCO import), else their referenceId when it is an integer, else the item's
row id; category ids are those the dataset keeps from a COCO import, new labels numbered after
them. COCO results keep each image's predictions in upload order (pycocotools' tie order).
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import IO, Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from sliceboard.errors import InvalidInput, Issue, LimitExceeded, NotFound
from sliceboard.services import jobs as job_service
from sliceboard.services import reads
from sliceboard.services.exports.geometry import to_coco, to_input
from sliceboard.services.ids import require_id
from sliceboard.services.slices import items_clause
from sliceboard.storage import tables
from sliceboard.storage.tables import Dataset, Job, ModelRun

EXPORT_KIND = "EXPORT"
ROW_FORMATS = ("COCO", "COCO_RESULTS", "NDJSON")
REPORT_FORMATS = ("METRICS_JSON", "METRICS_CSV", "MATCHES_CSV", "MATCHES_PARQUET")
FORMATS = (*ROW_FORMATS, *REPORT_FORMATS)
EXTENSIONS = {
    "COCO": "json",
    "COCO_RESULTS": "json",
    "NDJSON": "ndjson",
    "METRICS_JSON": "json",
    "METRICS_CSV": "csv",
    "MATCHES_CSV": "csv",
    "MATCHES_PARQUET": "parquet",
}
PAGE_ITEMS = 1_000
Progress = Callable[[int, int], Awaitable[None]]


async def queue_export(
    session: AsyncSession,
    *,
    format: str,
    dataset_id: str | None,
    model_run_id: str | None,
    filter: dict[str, Any] | None,
    slice_id: str | None,
    iou_threshold: float,
    confidence_threshold: float,
    max_attempts: int,
) -> Job:
    issues: list[Issue] = []
    run = None
    if model_run_id is not None:
        run = await reads.row_by_id(
            session, table=ModelRun, id=require_id(model_run_id, "ModelRun", "input.modelRunId")
        )
        if run is None:
            raise NotFound("ModelRun", model_run_id, "input.modelRunId")
    dataset = None
    if dataset_id is not None:
        dataset = await reads.row_by_id(
            session, table=Dataset, id=require_id(dataset_id, "Dataset", "input.datasetId")
        )
        if dataset is None:
            raise NotFound("Dataset", dataset_id, "input.datasetId")
    if format not in FORMATS:
        issues.append(Issue("input.format", f"must be one of {', '.join(FORMATS)}"))
    if dataset is None and run is None:
        issues.append(Issue("input.datasetId", "give a datasetId or a modelRunId"))
    if dataset is not None and run is not None and run.dataset_id != dataset.id:
        issues.append(Issue("input.modelRunId", "the model run belongs to another dataset"))
    if run is None and format != "COCO" and format != "NDJSON":
        issues.append(Issue("input.modelRunId", f"a {format} export is of a model run"))
    if not (math.isfinite(iou_threshold) and 0 < iou_threshold <= 1):
        issues.append(Issue("input.iouThreshold", "must be above 0 and at most 1"))
    if not math.isfinite(confidence_threshold) or not 0 <= confidence_threshold <= 1:
        issues.append(Issue("input.confidenceThreshold", "must be between 0 and 1"))
    if issues:
        raise InvalidInput(issues)
    owner = dataset.id if dataset is not None else run.dataset_id  # type: ignore[union-attr]
    assert owner is not None
    # A bad filter or a slice of another dataset is refused now, not when the job runs.
    await items_clause(
        session,
        dataset_id=owner,
        filter=filter,
        slice_id=slice_id,
        model_run_id=None if run is None else run.id,
        path="input.filter",
    )
    payload = {
        "format": format,
        "datasetId": owner,
        "modelRunId": None if run is None else run.id,
        "filter": filter,
        "sliceId": slice_id,
        "iouThreshold": iou_threshold,
        "confidenceThreshold": confidence_threshold,
    }
    return await job_service.enqueue_job(
        session,
        kind=EXPORT_KIND,
        payload=payload,
        model_run_id=None if run is None else run.id,
        max_attempts=max_attempts,
    )


def file_name(payload: dict[str, Any], subject: str) -> str:
    """A download's file name, e.g. ``coco-results-run-3.json``."""
    format = str(payload["format"])
    stem = format.lower().replace("_", "-")
    return f"{subject}-{stem}.{EXTENSIONS.get(format, 'bin')}"


async def subject_name(session: AsyncSession, payload: dict[str, Any]) -> str:
    if payload.get("modelRunId") is not None:
        run = await reads.row_by_id(session, table=ModelRun, id=int(payload["modelRunId"]))
        return f"run-{payload['modelRunId']}" if run is None else _safe(f"{run.name}")
    dataset = await reads.row_by_id(session, table=Dataset, id=int(payload["datasetId"]))
    return f"dataset-{payload['datasetId']}" if dataset is None else _safe(dataset.name)


def _safe(name: str) -> str:
    kept = "".join(c if c.isalnum() or c in "-_." else "-" for c in name).strip("-.")
    return kept[:80] or "export"


class LimitedWriter:
    """A binary file that refuses to grow past ``limit`` bytes (LimitExceeded)."""

    def __init__(self, file: IO[bytes], limit: int) -> None:
        self.file = file
        self.limit = limit
        self.bytes = 0

    def write(self, data: bytes) -> None:
        self.bytes += len(data)
        if self.bytes > self.limit:
            raise LimitExceeded(
                f"the export is larger than {self.limit} bytes (SLICEBOARD_MAX_EXPORT_BYTES)"
            )
        self.file.write(data)


@dataclass
class Page:
    items: list[tables.Item]
    objects: list[list[Any]]  # annotations or predictions, per item


async def pages(
    session: AsyncSession, payload: dict[str, Any], *, predictions: bool
) -> AsyncIterator[Page]:
    """The selected items a page at a time, with their annotations (or the run's predictions)."""
    run_id = payload.get("modelRunId")
    after: int | None = None
    while True:
        page = await reads.page_items(
            session,
            dataset_id=int(payload["datasetId"]),
            filter=payload.get("filter"),
            slice_id=payload.get("sliceId"),
            model_run_id=run_id,
            after_id=after,
            limit=PAGE_ITEMS,
        )
        items = list(page.rows)
        if not items:
            return
        ids = [item.id for item in items if item.id is not None]
        if predictions:
            assert run_id is not None
            objects: list[list[Any]] = list(
                await reads.predictions_of_items(
                    session, keys=[(int(run_id), item_id) for item_id in ids]
                )
            )
        else:
            objects = list(await reads.annotations_of_items(session, item_ids=ids))
        yield Page(items, objects)
        after = items[-1].id
        if len(items) < PAGE_ITEMS:
            return


def image_id(item: tables.Item) -> int:
    coco = (item.metadata_ or {}).get("cocoId")
    if type(coco) is int:
        return coco
    if item.reference_id.isdigit() and len(item.reference_id) < 19:
        return int(item.reference_id)
    assert item.id is not None
    return item.id


async def category_ids(session: AsyncSession, dataset_id: int) -> tuple[dict[str, int], list[Any]]:
    """label -> COCO category id, and the category records, from the dataset's COCO import."""
    dataset = await reads.row_by_id(session, table=Dataset, id=dataset_id)
    coco = (dataset.metadata_ or {}).get("coco") if dataset is not None else None
    records = list(coco.get("categories") or []) if isinstance(coco, dict) else []
    ids = {r["name"]: r["id"] for r in records if isinstance(r, dict) and "name" in r}
    return ids, records


def _category(ids: dict[str, int], records: list[Any], label: str) -> int:
    if label not in ids:
        new = max([0, *ids.values()]) + 1
        ids[label] = new
        records.append({"id": new, "name": label})
    return ids[label]


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY)


async def write_rows(
    session: AsyncSession, payload: dict[str, Any], out: LimitedWriter, progress: Progress
) -> int:
    """Writes a COCO, COCO results or NDJSON file; the number of rows written."""
    format = payload["format"]
    dataset_id = int(payload["datasetId"])
    total = await reads.count_items(
        session,
        dataset_id=dataset_id,
        filter=payload.get("filter"),
        slice_id=payload.get("sliceId"),
        model_run_id=payload.get("modelRunId"),
    )
    if format == "NDJSON":
        return await _ndjson(session, payload, out, progress, total)
    ids, records = await category_ids(session, dataset_id)
    if format == "COCO_RESULTS":
        out.write(b"[")
        rows = 0
        done = 0
        async for page in pages(session, payload, predictions=True):
            for item, predicted in zip(page.items, page.objects, strict=True):
                number = image_id(item)
                for p in predicted:
                    det = {
                        "image_id": number,
                        "category_id": _category(ids, records, p.label),
                        **to_coco(p.type, p.geometry),
                        "score": 1.0 if p.confidence is None else p.confidence,
                    }
                    det.pop("num_keypoints", None)
                    out.write((b"," if rows else b"") + _dumps(det))
                    rows += 1
            done += len(page.items)
            await progress(done, total)
        out.write(b"]")
        return rows
    # COCO ground truth: images, then annotations (a second pass), then categories.
    out.write(b'{"images":[')
    rows = 0
    done = 0
    async for page in pages(session, payload, predictions=False):
        for item in page.items:
            image: dict[str, Any] = {
                "id": image_id(item),
                "width": item.width,
                "height": item.height,
            }
            name = (item.metadata_ or {}).get("fileName")
            image["file_name"] = name if isinstance(name, str) else (item.url or item.reference_id)
            out.write((b"," if rows else b"") + _dumps(image))
            rows += 1
        done += len(page.items)
        await progress(done // 2, total)
    out.write(b'],"annotations":[')
    count = 0
    done = 0
    async for page in pages(session, payload, predictions=False):
        for item, ground_truth in zip(page.items, page.objects, strict=True):
            image_number = image_id(item)
            for a in ground_truth:
                ann: dict[str, Any] = {
                    "id": int(a.annotation_id) if a.annotation_id.isdigit() else count + 1,
                    "image_id": image_number,
                    "category_id": _category(ids, records, a.label),
                    **to_coco(a.type, a.geometry),
                    "iscrowd": int(a.iscrowd),
                }
                bbox = (a.metadata_ or {}).get("bbox")
                if "bbox" not in ann and isinstance(bbox, list):
                    ann["bbox"] = bbox
                if a.area is not None:
                    ann["area"] = a.area
                out.write((b"," if count else b"") + _dumps(ann))
                count += 1
        done += len(page.items)
        await progress((total + done) // 2, total)
    out.write(b'],"categories":' + _dumps(records) + b"}")
    return rows + count


def _object_line(kind: str, item: tables.Item, row: Any) -> dict[str, Any]:
    line: dict[str, Any] = {
        "kind": kind,
        "referenceId": item.reference_id,
        "annotationId": row.annotation_id,
        "label": row.label,
    }
    geometry = to_input(row.type, row.geometry)
    if geometry is not None:
        line[geometry[0]] = geometry[1]
    if row.area is not None:
        line["area"] = row.area
    if row.metadata_ is not None:
        line["metadata"] = row.metadata_
    if row.classifications is not None:
        line["classifications"] = row.classifications
    if kind == "annotation":
        line["iscrowd"] = bool(row.iscrowd)
    else:
        if row.confidence is not None:
            line["confidence"] = row.confidence
        if row.class_pdf is not None:
            line["classPdf"] = row.class_pdf
        if row.custom_metrics is not None:
            line["customMetrics"] = row.custom_metrics
    return line


async def _ndjson(
    session: AsyncSession,
    payload: dict[str, Any],
    out: LimitedWriter,
    progress: Progress,
    total: int,
) -> int:
    """Items with their annotations (or, for a run, with its predictions), item by item."""
    predictions = payload.get("modelRunId") is not None
    rows = 0
    done = 0
    async for page in pages(session, payload, predictions=predictions):
        for item, objects in zip(page.items, page.objects, strict=True):
            line: dict[str, Any] = {"kind": "item", "referenceId": item.reference_id}
            for name in ("url", "width", "height"):
                if getattr(item, name) is not None:
                    line[name] = getattr(item, name)
            if item.metadata_ is not None:
                line["metadata"] = item.metadata_
            out.write(_dumps(line) + b"\n")
            for row in objects:
                kind = "prediction" if predictions else "annotation"
                out.write(_dumps(_object_line(kind, item, row)) + b"\n")
            rows += 1 + len(objects)
        done += len(page.items)
        await progress(done, total)
    return rows
