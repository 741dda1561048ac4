"""The three batch uploads behind one function, fed plain dicts by either resolver path
(strawberry's, or graphql-core's coerced arguments in ``schema/raw_uploads.py``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sliceboard.errors import SliceboardError
from sliceboard.schema.context import Context
from sliceboard.schema.errors import UpsertResult, error_payload, fit_union
from sliceboard.schema.payloads import UPSERT_ERRORS
from sliceboard.services import uploads

Upload = Callable[..., Awaitable[uploads.UpsertCounts]]
# rows argument -> (service, name of its id argument)
SERVICES: dict[str, tuple[Upload, str]] = {
    "items": (uploads.upsert_items, "dataset_id"),
    "annotations": (uploads.upsert_annotations, "dataset_id"),
    "predictions": (uploads.upsert_predictions, "model_run_id"),
}


async def upload_rows(
    context: Context, kind: str, *, target_id: str, rows: list[dict[str, Any]], update: bool
) -> Any:
    """Validate and write one batch in one transaction; the payload union member to answer."""
    service, id_name = SERVICES[kind]
    settings = context.runtime.settings
    try:
        async with context.runtime.unit_of_work() as session:
            counts = await service(
                session,
                **{id_name: target_id, kind: rows},
                update=update,
                max_rows=settings.max_batch_rows,
            )
    except SliceboardError as exc:
        return fit_union(error_payload(exc), UPSERT_ERRORS)
    return UpsertResult(new=counts.new, updated=counts.updated, ignored=counts.ignored)
