"""Batches of new rows: written with COPY on PostgreSQL, executemany on SQLite, to the same
rows (values, JSON, NULLs, upload order), and idempotent afterwards either way."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sliceboard.services import uploads
from sliceboard.services.uploads import UpsertCounts
from sliceboard.storage import upload_writes
from sliceboard.storage.db import transaction
from sliceboard.storage.tables import Annotation, Item, Prediction
from tests.support.factories import (
    MAX_ROWS,
    annotation,
    fetch_all,
    item,
    prediction,
    setup_dataset,
    setup_run,
)

Sessions = async_sessionmaker[AsyncSession]
N = upload_writes.COPY_MIN_ROWS + 100


async def test_a_large_batch_of_new_rows_is_copied_alike(
    sessions: Sessions, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    copied: list[str] = []
    real_copy = upload_writes._copy

    async def spy(session: AsyncSession, table: Any, rows: list[dict[str, Any]]) -> None:
        copied.append(table.name)
        await real_copy(session, table, rows)

    monkeypatch.setattr(upload_writes, "_copy", spy)
    dataset_id = await setup_dataset(sessions, [])
    run_id = await setup_run(sessions, dataset_id)
    items = [item(f"i{k}", width=10 + k, metadata={"k": k} if k % 2 else None) for k in range(N)]
    ground_truth = [annotation(f"i{k % 7}", f"a{k}", iscrowd=k % 3 == 0) for k in range(N)]
    predictions = [
        prediction(f"i{N - 1 - k}", f"p{k}", confidence=None if k % 5 == 0 else k / N)
        for k in range(N)
    ]
    async with transaction(sessions) as session:
        assert await uploads.upsert_items(
            session, dataset_id=dataset_id, items=items, update=False, max_rows=MAX_ROWS
        ) == UpsertCounts(N, 0, 0)
        assert await uploads.upsert_annotations(
            session, dataset_id=dataset_id, annotations=ground_truth, update=True, max_rows=MAX_ROWS
        ) == UpsertCounts(N, 0, 0)
        assert await uploads.upsert_predictions(
            session, model_run_id=run_id, predictions=predictions, update=True, max_rows=MAX_ROWS
        ) == UpsertCounts(N, 0, 0)
    expected = ["item", "annotation", "prediction"] if "postgresql" in database_url else []
    assert copied == expected

    stored_items = await fetch_all(sessions, Item)
    assert [(i.reference_id, i.width, i.metadata_) for i in stored_items] == [
        (f"i{k}", 10 + k, {"k": k} if k % 2 else None) for k in range(N)
    ]
    refs = {i.id: i.reference_id for i in stored_items}
    stored_gt = await fetch_all(sessions, Annotation)
    assert [(refs[a.item_id], a.annotation_id, a.iscrowd) for a in stored_gt] == [
        (f"i{k % 7}", f"a{k}", k % 3 == 0) for k in range(N)
    ]
    assert stored_gt[0].geometry == {
        "x": 0.0,
        "y": 0.0,
        "width": 10.0,
        "height": 10.0,
        "rotation": 0.0,
    }
    stored_dt = await fetch_all(sessions, Prediction)
    # Row id order is upload order (COCO's tie order), also through COPY.
    assert [(refs[p.item_id], p.annotation_id, p.confidence) for p in stored_dt] == [
        (f"i{N - 1 - k}", f"p{k}", None if k % 5 == 0 else k / N) for k in range(N)
    ]
    async with transaction(sessions) as session:
        assert await uploads.upsert_predictions(
            session, model_run_id=run_id, predictions=predictions, update=True, max_rows=MAX_ROWS
        ) == UpsertCounts(0, 0, N)
