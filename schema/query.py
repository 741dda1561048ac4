"""Root queries. An id or key that names nothing answers null (DESIGN.md §5)."""

from __future__ import annotations

import strawberry

from sliceboard.schema import api_keys as key_fields
from sliceboard.schema import audit, comparison, jobs
from sliceboard.schema.context import Info
from sliceboard.schema.extensions import PublicError
from sliceboard.schema.fields import field
from sliceboard.schema.filters import ItemFilter
from sliceboard.schema.pagination import read_page
from sliceboard.schema.reading import read
from sliceboard.schema.types.dataset import Dataset, DatasetConnection
from sliceboard.schema.types.model import Model, ModelConnection, ModelRun
from sliceboard.services import reads
from sliceboard.services.ids import parse_id


@strawberry.type
class Query:
    job: jobs.Job | None = strawberry.field(
        resolver=jobs.job, description="null for an id that names no job."
    )
    viewer: key_fields.Viewer = strawberry.field(
        resolver=key_fields.viewer,
        description="Who this request is: its key's name, scope and datasets.",
    )
    api_keys: key_fields.ApiKeyConnection = strawberry.field(
        resolver=key_fields.api_key_page, description="Every API key, secrets never shown (admin)."
    )
    audit_log: audit.AuditEntryConnection = strawberry.field(
        resolver=audit.audit_log,
        description="Mutations, newest first: who (key), which field, which dataset, when, "
        "outcome. Admin keys only.",
    )

    @field(description="Datasets in creation order.")
    async def datasets(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> DatasetConnection:
        return await read_page(
            info,
            DatasetConnection,
            kind="Dataset",
            node=lambda row: Dataset(row=row),
            rows=lambda s, after_id, limit: reads.page_datasets(s, after_id=after_id, limit=limit),
            count=reads.count_datasets,
            first=first,
            after=after,
        )

    @field(description="By id or by name (both given: they must name the same dataset).")
    async def dataset(
        self, info: Info, id: strawberry.ID | None = None, name: str | None = None
    ) -> Dataset | None:
        if id is None and name is None:
            raise PublicError("give `id` or `name`", code="BAD_USER_INPUT")
        if id is not None:
            key = parse_id(id)
            row = await info.context.loaders.dataset.load(key) if key is not None else None
        else:
            row = await read(info, lambda s: reads.dataset_by_name(s, name=str(name)))
        if row is None or (name is not None and row.name != name):
            return None
        return Dataset(row=row)

    @field(description="Models in creation order.")
    async def models(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> ModelConnection:
        return await read_page(
            info,
            ModelConnection,
            kind="Model",
            node=lambda row: Model(row=row),
            rows=lambda s, after_id, limit: reads.page_models(s, after_id=after_id, limit=limit),
            count=reads.count_models,
            first=first,
            after=after,
        )

    @field(description="By id or by referenceId (both given: they must name the same model).")
    async def model(
        self, info: Info, id: strawberry.ID | None = None, reference_id: str | None = None
    ) -> Model | None:
        if id is None and reference_id is None:
            raise PublicError("give `id` or `referenceId`", code="BAD_USER_INPUT")
        if id is not None:
            key = parse_id(id)
            row = await info.context.loaders.model.load(key) if key is not None else None
        else:
            row = await read(
                info, lambda s: reads.model_by_reference_id(s, reference_id=str(reference_id))
            )
        if row is None or (reference_id is not None and row.reference_id != reference_id):
            return None
        return Model(row=row)

    @strawberry.field
    async def model_run(self, info: Info, id: strawberry.ID) -> ModelRun | None:
        key = parse_id(id)
        row = await info.context.loaders.model_run.load(key) if key is not None else None
        return ModelRun(row=row) if row is not None else None

    @field(
        description="2 to 8 runs of one dataset against a baseline (default: the first), from "
        "their stored evaluations: deltas with paired-bootstrap intervals (resamples at most "
        "SLICEBOARD_MAX_BOOTSTRAP_RESAMPLES), object transitions and regressions. Runs of other "
        "datasets or evaluated with other options are an INVALID_INPUT error naming the run "
        "and the option."
    )
    async def compare_runs(
        self,
        info: Info,
        run_ids: list[strawberry.ID],
        baseline_id: strawberry.ID | None = None,
        filter: ItemFilter | None = None,
        slice_id: strawberry.ID | None = None,
        iou_threshold: float | None = 0.5,
        confidence_threshold: float | None = 0.0,
        labels: list[str] | None = None,
        resamples: int | None = 1000,
        seed: int | None = 0,
        level: float | None = 0.95,
    ) -> comparison.RunComparison:
        return await comparison.compare_runs(
            info,
            run_ids=run_ids,
            baseline_id=baseline_id,
            filter=filter,
            slice_id=slice_id,
            iou_threshold=iou_threshold,
            confidence_threshold=confidence_threshold,
            labels=labels,
            resamples=resamples,
            seed=seed,
            level=level,
        )
