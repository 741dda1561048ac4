"""The batch upload fields: one table, and the one function that writes a batch.

Each row of ``BATCH_FIELDS`` names a Mutation field, its id and rows arguments and the service
that writes the rows. Coercion (``schema/upload_hooks.py`` picks the variables to precompile by
it), execution (the hooks give these fields their resolvers by it) and the resolvers in
``schema/mutation.py`` (which hand their row to ``upload_rows``) all read this one table.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import UploadFile

from sliceboard.errors import SliceboardError
from sliceboard.schema.context import Context
from sliceboard.schema.errors import UpsertResult, error_payload, fit_union
from sliceboard.schema.input_coercion import snake_case
from sliceboard.schema.payloads import UPSERT_ERRORS
from sliceboard.services import uploads

Row = dict[str, Any]
Upload = Callable[..., Awaitable[uploads.UpsertCounts]]


@dataclass(frozen=True)
class BatchField:
    """One upload mutation: ``field(idArgument: ID!, rowsArgument: [XInput!]!, update)``."""

    field: str
    id_argument: str
    rows_argument: str
    service: Upload

    @property
    def service_keywords(self) -> tuple[str, str]:
        """The service's keyword for the id, then for the rows (``model_run_id``, ``predictions``)."""
        return snake_case(self.id_argument), self.rows_argument


ITEMS = BatchField("upsertItems", "datasetId", "items", uploads.upsert_items)
ANNOTATIONS = BatchField(
    "upsertAnnotations", "datasetId", "annotations", uploads.upsert_annotations
)
PREDICTIONS = BatchField(
    "upsertPredictions", "modelRunId", "predictions", uploads.upsert_predictions
)
BATCH_FIELDS = (ITEMS, ANNOTATIONS, PREDICTIONS)


async def upload_rows(
    context: Context, batch: BatchField, *, target_id: str, rows: list[Row], update: bool
) -> Any:
    """Validate and write one batch in one transaction; the payload union member to answer.

    ``rows`` are the plain snake_case dicts a service takes, as the hooks hand them over.
    """
    id_keyword, rows_keyword = batch.service_keywords
    settings = context.runtime.settings
    await read_mask_files(rows, settings.max_mask_bytes)
    try:
        async with context.runtime.unit_of_work() as session:
            counts = await batch.service(
                session,
                **{id_keyword: target_id, rows_keyword: rows},
                update=update,
                max_rows=settings.max_batch_rows,
            )
    except SliceboardError as exc:
        return fit_union(error_payload(exc), UPSERT_ERRORS)
    return UpsertResult(new=counts.new, updated=counts.updated, ignored=counts.ignored)


async def read_mask_files(rows: list[Row], max_bytes: int) -> None:
    """Replaces each ``semanticSegmentation.mask`` file part by its bytes (at most one byte
    past ``max_bytes``, enough for the service to refuse it), so services see no transport
    object. The multipart parser (strawberry's Upload scalar) hands over starlette's
    ``UploadFile``; any other value is left for validation to refuse."""
    for row in rows:
        semantic = row.get("semantic_segmentation") if isinstance(row, dict) else None
        if not isinstance(semantic, dict):
            continue
        mask = semantic.get("mask")
        if isinstance(mask, UploadFile):
            semantic["mask"] = await mask.read(max_bytes + 1)
