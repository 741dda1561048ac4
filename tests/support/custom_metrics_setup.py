"""Test objects for custom-metric tests: a dataset with items, a model and a run, written as rows."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sliceboard.services.custom_metrics import UploadCounts, upload_custom_metrics
from sliceboard.storage.db import transaction
from sliceboard.storage.tables import Dataset, Item, Model, ModelRun, Prediction


@dataclass(frozen=True)
class Run:
    dataset_id: int
    run_id: int
    item_ids: dict[str, int]  # referenceId -> item row id


async def make_run(
    sessions: async_sessionmaker[AsyncSession], reference_ids: list[str], name: str = "run"
) -> Run:
    async with transaction(sessions) as session:
        dataset = Dataset(name=f"ds-{name}")
        model = Model(name="m", reference_id=f"model-{name}")
        session.add_all([dataset, model])
        await session.flush()
        assert dataset.id is not None and model.id is not None
        items = [Item(dataset_id=dataset.id, reference_id=ref) for ref in reference_ids]
        run = ModelRun(model_id=model.id, dataset_id=dataset.id, name=name)
        session.add_all([*items, run])
        await session.flush()
        assert dataset.id is not None and run.id is not None
        return Run(dataset.id, run.id, {i.reference_id: i.id for i in items if i.id is not None})


async def upload(
    sessions: async_sessionmaker[AsyncSession],
    run: Run,
    metrics: list[dict[str, object]],
    max_rows: int = 10_000,
) -> UploadCounts:
    async with transaction(sessions) as session:
        return await upload_custom_metrics(
            session, model_run_id=str(run.run_id), metrics=metrics, max_rows=max_rows
        )


async def add_predictions(
    sessions: async_sessionmaker[AsyncSession],
    run: Run,
    predictions: list[tuple[str, str, list[dict[str, object]] | None]],
) -> None:
    """(referenceId, label, customMetrics) rows, as the upload service stores them; bumps data_version."""
    async with transaction(sessions) as session:
        for n, (ref, label, metrics) in enumerate(predictions):
            session.add(
                Prediction(
                    model_run_id=run.run_id,
                    item_id=run.item_ids[ref],
                    annotation_id=f"p{uuid.uuid4().hex}-{n}",
                    label=label,
                    type="CATEGORY",
                    custom_metrics=metrics,
                )
            )
        model_run = await session.get(ModelRun, run.run_id)
        assert model_run is not None
        model_run.data_version += 1
