"""Small builders for upload rows (the dicts the GraphQL layer hands to services) and fixtures."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sliceboard.services import catalog, uploads
from sliceboard.storage.db import transaction
from sliceboard.storage.tables import Annotation, Dataset, Item, ModelRun, Prediction, core

MAX_ROWS = 10_000


def pts(*coords: tuple[float, float]) -> list[dict[str, float]]:
    return [{"x": x, "y": y} for x, y in coords]


def box(
    x: float = 0, y: float = 0, width: float = 10, height: float = 10, **extra: Any
) -> dict[str, Any]:
    return {"x": x, "y": y, "width": width, "height": height, **extra}


def item(ref: str, **fields: Any) -> dict[str, Any]:
    return {"reference_id": ref, **fields}


def annotation(ref: str, key: str, label: str = "car", **fields: Any) -> dict[str, Any]:
    """A ground-truth row; a box unless another geometry (or ``box=None``) is given."""
    row: dict[str, Any] = {"reference_id": ref, "annotation_id": key, "label": label}
    geometries = {"box", "polygon", "polyline", "keypoints", "segmentation", "cuboid"}
    if not geometries & fields.keys():
        row["box"] = box()
    row.update(fields)
    return row


def prediction(
    ref: str, key: str, label: str = "car", confidence: float | None = 0.9, **fields: Any
) -> dict[str, Any]:
    return {**annotation(ref, key, label, **fields), "confidence": confidence}


async def setup_dataset(
    sessions: async_sessionmaker[AsyncSession], refs: list[str], name: str = "ds"
) -> str:
    """A dataset with items ``refs``; returns its GraphQL id."""
    async with transaction(sessions) as session:
        dataset = await catalog.create_dataset(session, name=name, metadata=None)
        dataset_id = str(dataset.id)
        await uploads.upsert_items(
            session,
            dataset_id=dataset_id,
            items=[item(r) for r in refs],
            update=False,
            max_rows=MAX_ROWS,
        )
    return dataset_id


async def add_annotations(session: AsyncSession, dataset_id: str, *rows: dict[str, Any]) -> None:
    """Ground-truth rows uploaded (``update=False``) in the caller's transaction."""
    await uploads.upsert_annotations(
        session, dataset_id=dataset_id, annotations=list(rows), update=False, max_rows=MAX_ROWS
    )


async def setup_run(
    sessions: async_sessionmaker[AsyncSession], dataset_id: str, reference_id: str = "m1"
) -> str:
    async with transaction(sessions) as session:
        model = await catalog.create_model(
            session, name="model", reference_id=reference_id, metadata=None
        )
        run = await catalog.create_model_run(
            session, model_id=str(model.id), dataset_id=dataset_id, name="run"
        )
    return str(run.id)


async def row_counts(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    """Rows per upload table, to show a refused batch left nothing behind."""
    counts: dict[str, int] = {}
    async with sessions() as session:
        for model in (Dataset, Item, Annotation, ModelRun, Prediction):
            table = core(model)
            counts[table.name] = (
                await session.execute(sa.select(sa.func.count()).select_from(table))
            ).scalar_one()
    return counts


async def fetch_all(sessions: async_sessionmaker[AsyncSession], model: Any) -> list[Any]:
    async with sessions() as session:
        return list((await session.execute(sa.select(model).order_by(model.id))).scalars().all())
