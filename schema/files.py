"""``importFile`` and ``exportFile``: files in and out as jobs.

An import's file arrives through the GraphQL multipart request spec (strawberry's ``Upload``);
it is copied to ``files_dir`` a block at a time under ``max_import_bytes`` before the job is
queued, so the job can run after the request is answered. Both answer the ``Job`` to follow
(``Subscription.job``); an export's ``result.downloadUrl`` is served by ``schema/downloads.py``.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry.file_uploads import Upload

from sliceboard.errors import InvalidInput, Issue, SliceboardError
from sliceboard.schema.context import Info
from sliceboard.schema.errors import InvalidInputError, NotFoundError, error_payload, fit_union
from sliceboard.schema.filters import ItemFilter, filter_to_dict
from sliceboard.schema.jobs import Job
from sliceboard.services.exports import service as exports
from sliceboard.services.imports import service as imports
from sliceboard.services.imports.files import remove_file, save_upload

FILE_ERRORS = (InvalidInputError, NotFoundError)


def _given(value: Any) -> str | None:
    """An optional argument as text; unset or null -> None."""
    return None if value is None or value is strawberry.UNSET else str(value)


@strawberry.enum(description="What an imported file holds.")
class ImportFormat(Enum):
    COCO = "COCO"
    COCO_RESULTS = "COCO_RESULTS"
    YOLO = "YOLO"
    NDJSON = "NDJSON"


@strawberry.enum(description="What an export writes.")
class ExportFormat(Enum):
    COCO = "COCO"
    COCO_RESULTS = "COCO_RESULTS"
    NDJSON = "NDJSON"
    METRICS_JSON = "METRICS_JSON"
    METRICS_CSV = "METRICS_CSV"
    MATCHES_CSV = "MATCHES_CSV"
    MATCHES_PARQUET = "MATCHES_PARQUET"


@strawberry.input(
    description=(
        "A file to import as a job. COCO: ground truth into the dataset; COCO_RESULTS: "
        "detections into modelRunId; YOLO (a zip) and NDJSON: annotations, or predictions "
        "when modelRunId is given. All-or-nothing; update: true replaces changed rows."
    )
)
class ImportFileInput:
    format: ImportFormat
    file: Upload
    dataset_id: strawberry.ID
    model_run_id: strawberry.ID | None = strawberry.UNSET
    update: bool = True
    images_root: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="COCO: prefix of every image's file_name in the items' url.",
    )


@strawberry.input(
    description=(
        "An export as a job whose result carries a download URL. COCO and NDJSON take a "
        "datasetId (NDJSON of a run with modelRunId); the others a modelRunId. filter and "
        "sliceId select items; the thresholds apply to metrics and match tables."
    )
)
class ExportFileInput:
    format: ExportFormat
    dataset_id: strawberry.ID | None = strawberry.UNSET
    model_run_id: strawberry.ID | None = strawberry.UNSET
    filter: ItemFilter | None = strawberry.UNSET
    slice_id: strawberry.ID | None = strawberry.UNSET
    iou_threshold: float = 0.5
    confidence_threshold: float = 0.0


ImportFilePayload = Annotated[
    Job | InvalidInputError | NotFoundError, strawberry.union("ImportFilePayload")
]
ExportFilePayload = Annotated[
    Job | InvalidInputError | NotFoundError, strawberry.union("ExportFilePayload")
]


async def import_file(info: Info, input: ImportFileInput) -> ImportFilePayload:
    runtime = info.context.runtime
    settings = runtime.settings
    if not callable(getattr(input.file, "read", None)):  # a JSON value, not a multipart file part
        issue = Issue("input.file", "must be a file part of a GraphQL multipart request")
        return fit_union(error_payload(InvalidInput([issue])), FILE_ERRORS)  # type: ignore[return-value]
    try:
        path = await save_upload(input.file, settings.files_dir, settings.max_import_bytes)  # type: ignore[arg-type]
    except SliceboardError as exc:
        return fit_union(error_payload(exc), FILE_ERRORS)  # type: ignore[return-value]
    name = getattr(input.file, "filename", None)
    try:
        async with runtime.unit_of_work() as session:
            row = await imports.queue_import(
                session,
                format=input.format.value,
                path=path,
                file_name=name if isinstance(name, str) else None,
                dataset_id=str(input.dataset_id),
                model_run_id=_given(input.model_run_id),
                update=input.update,
                images_root=_given(input.images_root),
                max_attempts=settings.job_max_attempts,
            )
    except SliceboardError as exc:
        remove_file(path)
        return fit_union(error_payload(exc), FILE_ERRORS)  # type: ignore[return-value]
    except BaseException:
        remove_file(path)
        raise
    runtime.wake_jobs()
    return Job.from_row(row)


async def export_file(info: Info, input: ExportFileInput) -> ExportFilePayload:
    runtime = info.context.runtime
    filter: dict[str, Any] | None = (
        filter_to_dict(input.filter) if input.filter not in (None, strawberry.UNSET) else None
    )
    try:
        async with runtime.unit_of_work() as session:
            row = await exports.queue_export(
                session,
                format=input.format.value,
                dataset_id=_given(input.dataset_id),
                model_run_id=_given(input.model_run_id),
                filter=filter,
                slice_id=_given(input.slice_id),
                iou_threshold=input.iou_threshold,
                confidence_threshold=input.confidence_threshold,
                max_attempts=runtime.settings.job_max_attempts,
            )
    except SliceboardError as exc:
        return fit_union(error_payload(exc), FILE_ERRORS)  # type: ignore[return-value]
    runtime.wake_jobs()
    return Job.from_row(row)
