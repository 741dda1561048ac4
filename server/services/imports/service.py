"""Import use cases: check and queue an import, open its reader, and what the file needs from
the database before its rows are written (categories, item sizes) and after (the categories)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from sliceboard.errors import InvalidInput, Issue, NotFound
from sliceboard.services import jobs as job_service
from sliceboard.services import reads
from sliceboard.services.ids import require_id
from sliceboard.services.imports.chunks import FileProblems
from sliceboard.services.imports.coco import CocoReader, category_records
from sliceboard.services.imports.coco_results import CocoResultsReader
from sliceboard.services.imports.ndjson import NdjsonReader
from sliceboard.services.imports.yolo import YoloReader
from sliceboard.storage import file_jobs
from sliceboard.storage import upload_writes as upload_sql
from sliceboard.storage.tables import Dataset, Job, ModelRun

IMPORT_KIND = "IMPORT"
FORMATS = ("COCO", "COCO_RESULTS", "YOLO", "NDJSON")
#: The dataset metadata key that keeps a COCO file's categories (ids, names, skeletons).
COCO_METADATA_KEY = "coco"


class Reader(Protocol):
    problems: FileProblems

    def total_rows(self) -> int: ...

    def chunks(self, size: int) -> Any: ...


async def import_target(
    session: AsyncSession, *, dataset_id: str, model_run_id: str | None
) -> tuple[Dataset, ModelRun | None]:
    """The dataset and run an import writes to; NotFound / InvalidInput name the field."""
    dataset = await reads.row_by_id(
        session, table=Dataset, id=require_id(dataset_id, "Dataset", "input.datasetId")
    )
    if dataset is None:
        raise NotFound("Dataset", dataset_id, "input.datasetId")
    run = None
    if model_run_id is not None:
        run = await reads.row_by_id(
            session, table=ModelRun, id=require_id(model_run_id, "ModelRun", "input.modelRunId")
        )
        if run is None:
            raise NotFound("ModelRun", model_run_id, "input.modelRunId")
        if run.dataset_id != dataset.id:
            raise InvalidInput(
                [Issue("input.modelRunId", "the model run belongs to another dataset")]
            )
    return dataset, run


async def queue_import(
    session: AsyncSession,
    *,
    format: str,
    path: Path,
    file_name: str | None,
    dataset_id: str,
    model_run_id: str | None,
    update: bool,
    images_root: str | None,
    max_attempts: int,
) -> Job:
    """A QUEUED import job of an uploaded file (already on disk at ``path``)."""
    dataset, run = await import_target(session, dataset_id=dataset_id, model_run_id=model_run_id)
    issues: list[Issue] = []
    if format not in FORMATS:
        issues.append(Issue("input.format", f"must be one of {', '.join(FORMATS)}"))
    if format == "COCO_RESULTS" and run is None:
        issues.append(Issue("input.modelRunId", "COCO results are a model run's predictions"))
    if format == "COCO" and run is not None:
        issues.append(
            Issue("input.modelRunId", "COCO ground truth goes to the dataset; use COCO_RESULTS")
        )
    if images_root is not None and format != "COCO":
        issues.append(Issue("input.imagesRoot", "only a COCO import reads image file names"))
    if images_root is not None and len(images_root) > 2048:
        issues.append(Issue("input.imagesRoot", "must be at most 2048 characters"))
    if issues:
        raise InvalidInput(issues)
    payload = {
        "format": format,
        "path": str(path),
        "fileName": file_name,
        "datasetId": str(dataset.id),
        "modelRunId": None if run is None else str(run.id),
        "update": update,
        "imagesRoot": images_root,
    }
    return await job_service.enqueue_job(
        session,
        kind=IMPORT_KIND,
        payload=payload,
        model_run_id=None if run is None else run.id,
        max_attempts=max_attempts,
    )


def open_reader(payload: dict[str, Any]) -> Reader:
    """The file's reader (a COCO file is parsed here: call it off the event loop)."""
    path = Path(payload["path"])
    predictions = payload.get("modelRunId") is not None
    format = payload["format"]
    if format == "COCO":
        return CocoReader(path.read_bytes(), payload.get("imagesRoot"))
    if format == "COCO_RESULTS":
        return CocoResultsReader(path)
    if format == "YOLO":
        return YoloReader(path, predictions=predictions)
    return NdjsonReader(path, predictions=predictions)


async def prepare_reader(session: AsyncSession, reader: Reader, *, dataset_id: int) -> None:
    """What a reader needs from the database before it yields rows."""
    if isinstance(reader, CocoResultsReader):
        dataset = await reads.row_by_id(session, table=Dataset, id=dataset_id)
        coco = (dataset.metadata_ or {}).get(COCO_METADATA_KEY) if dataset else None
        if isinstance(coco, dict) and isinstance(coco.get("categories"), list):
            reader.use_categories(coco["categories"])
    elif isinstance(reader, YoloReader):
        found = await upload_sql.select_items(
            session=session, dataset_id=dataset_id, reference_ids=reader.stems()
        )
        reader.use_sizes({ref: (row["width"], row["height"]) for ref, row in found.items()})


async def finish_import(session: AsyncSession, reader: Reader, *, dataset_id: int) -> None:
    """After the rows: a COCO file's categories are kept on the dataset (merged by id)."""
    if not isinstance(reader, CocoReader) or not reader.categories:
        return
    dataset = await upload_sql.lock_dataset(session=session, dataset_id=dataset_id)
    assert dataset is not None
    coco = dict((dataset.metadata_ or {}).get(COCO_METADATA_KEY) or {})
    known = {c.get("id"): c for c in coco.get("categories") or [] if isinstance(c, dict)}
    for record in category_records(reader.categories):
        known[record["id"]] = record
    if list(known.values()) != coco.get("categories"):
        coco["categories"] = list(known.values())
        await file_jobs.set_dataset_metadata_key(
            session=session, dataset=dataset, key=COCO_METADATA_KEY, value=coco
        )
