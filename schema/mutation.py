"""Root mutations: each opens the write transaction, calls one service, shapes the answer.

Expected failures (sliceboard.errors) become payload union members via ``schema/errors.py``; a
failure rolls the whole transaction back, so a rejected batch writes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeAlias, TypeVar

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from sliceboard.errors import SliceboardError
from sliceboard.schema import api_keys as key_fields
from sliceboard.schema import custom_metrics, files, jobs
from sliceboard.schema.context import Info
from sliceboard.schema.convert import to_plain
from sliceboard.schema.errors import (
    Deleted,
    Error,
    UpsertPayload,
    UpsertResult,
    error_payload,
    fit_union,
)
from sliceboard.schema.evaluation import versions
from sliceboard.schema.evaluation.options import EvaluationOptionsInput
from sliceboard.schema.fields import mutation
from sliceboard.schema.filters import filter_to_dict
from sliceboard.schema.inputs import (
    AnnotationInput,
    CreateDatasetInput,
    CreateModelInput,
    CreateModelRunInput,
    CreateSliceInput,
    ItemInput,
    PredictionInput,
)
from sliceboard.schema.payloads import (
    CREATE_ERRORS,
    CREATE_RUN_ERRORS,
    DELETE_ERRORS,
    UPSERT_ERRORS,
    CreateDatasetPayload,
    CreateModelPayload,
    CreateModelRunPayload,
    CreateSlicePayload,
    DeletePayload,
    EvaluationJobPayload,
    UpsertLabelsPayload,
)
from sliceboard.schema.types.dataset import Dataset
from sliceboard.schema.types.model import Model, ModelRun
from sliceboard.schema.types.slice import Slice
from sliceboard.schema.uploads import ANNOTATIONS, ITEMS, PREDICTIONS, Row, upload_rows
from sliceboard.services import catalog, uploads

T = TypeVar("T")

# A batch argument is published as its input type; ``schema/upload_hooks.py`` hands the resolver
# the rows already coerced into the plain snake_case dicts the services take.
ItemRows: TypeAlias = Annotated[list[Row], strawberry.argument(graphql_type=list[ItemInput])]
AnnotationRows: TypeAlias = Annotated[
    list[Row], strawberry.argument(graphql_type=list[AnnotationInput])
]
PredictionRows: TypeAlias = Annotated[
    list[Row], strawberry.argument(graphql_type=list[PredictionInput])
]


async def write(
    info: Info, allowed: tuple[type[Error], ...], work: Callable[[AsyncSession], Awaitable[T]]
) -> T | Error:
    """Run ``work`` in one write transaction; an expected error rolls back and becomes a payload."""
    try:
        async with info.context.runtime.unit_of_work() as session:
            return await work(session)
    except SliceboardError as exc:
        return fit_union(error_payload(exc), allowed)


def _unset_to_none(value: Any) -> Any:
    return None if value is strawberry.UNSET else value


def _counts(counts: uploads.UpsertCounts) -> UpsertResult:
    return UpsertResult(new=counts.new, updated=counts.updated, ignored=counts.ignored)


@strawberry.type
class Mutation:
    upload_custom_metrics: UpsertPayload = strawberry.mutation(
        resolver=custom_metrics.upload_custom_metrics,
        description="Scalar or confusion-matrix metrics per data row (and feature); one transaction.",
    )
    import_file: files.ImportFilePayload = strawberry.mutation(
        resolver=files.import_file,
        description="Import a file (GraphQL multipart upload) as a job: validated whole, all-or-nothing.",
    )
    export_file: files.ExportFilePayload = strawberry.mutation(
        resolver=files.export_file,
        description="Export as a job; its result.downloadUrl serves the file.",
    )
    cancel_job: jobs.CancelJobPayload = strawberry.mutation(
        resolver=jobs.cancel_job,
        description="A queued job ends at once, a running one when its handler next checks.",
    )
    create_api_key: key_fields.CreateApiKeyPayload = strawberry.mutation(
        resolver=key_fields.create_api_key,
        description="A new API key; its secret is in this answer only (admin).",
    )
    revoke_api_key: key_fields.RevokeApiKeyPayload = strawberry.mutation(
        resolver=key_fields.revoke_api_key,
        description="The key stops working at once on this server (admin).",
    )

    @strawberry.mutation
    async def create_dataset(self, info: Info, input: CreateDatasetInput) -> CreateDatasetPayload:
        async def work(session: AsyncSession) -> Dataset:
            ignore = input.segmentation_ignore_index
            row = await catalog.create_dataset(
                session,
                name=input.name,
                metadata=_unset_to_none(input.metadata),
                segmentation_ignore_index=0 if ignore is None else ignore,
            )
            return Dataset(row=row)

        return await write(info, CREATE_ERRORS, work)  # type: ignore[return-value]

    @mutation(
        description="Items by referenceId; update: true replaces existing ones, false keeps them."
    )
    async def upsert_items(
        self,
        info: Info,
        dataset_id: strawberry.ID,
        items: ItemRows,
        update: bool | None = False,
    ) -> UpsertPayload:
        return await upload_rows(  # type: ignore[no-any-return]
            info.context, ITEMS, target_id=str(dataset_id), rows=items, update=bool(update)
        )

    @mutation(description="Ground truth keyed by (referenceId, annotationId).")
    async def upsert_annotations(
        self,
        info: Info,
        dataset_id: strawberry.ID,
        annotations: AnnotationRows,
        update: bool | None = False,
    ) -> UpsertPayload:
        return await upload_rows(  # type: ignore[no-any-return]
            info.context,
            ANNOTATIONS,
            target_id=str(dataset_id),
            rows=annotations,
            update=bool(update),
        )

    @strawberry.mutation
    async def create_model(self, info: Info, input: CreateModelInput) -> CreateModelPayload:
        async def work(session: AsyncSession) -> Model:
            row = await catalog.create_model(
                session,
                name=input.name,
                reference_id=input.reference_id,
                metadata=_unset_to_none(input.metadata),
            )
            return Model(row=row)

        return await write(info, CREATE_ERRORS, work)  # type: ignore[return-value]

    @strawberry.mutation
    async def create_model_run(
        self, info: Info, input: CreateModelRunInput
    ) -> CreateModelRunPayload:
        async def work(session: AsyncSession) -> ModelRun:
            row = await catalog.create_model_run(
                session, model_id=input.model_id, dataset_id=input.dataset_id, name=input.name
            )
            return ModelRun(row=row)

        return await write(info, CREATE_RUN_ERRORS, work)  # type: ignore[return-value]

    @mutation(description="A run's predictions keyed by (referenceId, annotationId).")
    async def upsert_predictions(
        self,
        info: Info,
        model_run_id: strawberry.ID,
        predictions: PredictionRows,
        update: bool | None = False,
    ) -> UpsertPayload:
        return await upload_rows(  # type: ignore[no-any-return]
            info.context,
            PREDICTIONS,
            target_id=str(model_run_id),
            rows=predictions,
            update=bool(update),
        )

    @mutation(
        description="Choose the ground truth the run is judged against: all, or these annotationIds."
    )
    async def upsert_labels(
        self,
        info: Info,
        model_run_id: strawberry.ID,
        annotation_ids: list[str] | None = None,
        all: bool | None = None,
    ) -> UpsertLabelsPayload:
        async def work(session: AsyncSession) -> ModelRun:
            row = await uploads.upsert_labels(
                session, model_run_id=model_run_id, annotation_ids=annotation_ids, all=all
            )
            return ModelRun(row=row)

        return await write(info, UPSERT_ERRORS, work)  # type: ignore[return-value]

    @strawberry.mutation
    async def create_slice(self, info: Info, input: CreateSliceInput) -> CreateSlicePayload:
        async def work(session: AsyncSession) -> Slice:
            row = await catalog.create_slice(
                session,
                dataset_id=input.dataset_id,
                name=input.name,
                filter=filter_to_dict(input.filter),
                reference_ids=to_plain(input.reference_ids),
            )
            return Slice(row=row)

        return await write(info, CREATE_RUN_ERRORS, work)  # type: ignore[return-value]

    @mutation(description="Deletes the dataset with its items, annotations, runs and slices.")
    async def delete_dataset(self, info: Info, id: strawberry.ID) -> DeletePayload:
        async def work(session: AsyncSession) -> Deleted:
            await catalog.delete_dataset(session, dataset_id=id)
            return Deleted(id=id)

        return await write(info, DELETE_ERRORS, work)  # type: ignore[return-value]

    @mutation(
        description="Queue an evaluation of the run; the answer is its Job (follow it with Subscription.job)."
    )
    async def calculate_evaluation_metrics(
        self, info: Info, model_run_id: strawberry.ID, options: EvaluationOptionsInput | None = None
    ) -> EvaluationJobPayload:
        return await versions.calculate_evaluation_metrics(info, model_run_id, options)
