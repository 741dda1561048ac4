"""Datasets, models, runs and slices: validation, uniqueness, not-found paths, cascade delete."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sliceboard.errors import Conflict, InvalidInput, NotFound
from sliceboard.services import catalog, uploads
from sliceboard.storage.db import transaction
from sliceboard.storage.tables import Slice
from tests.support.factories import (
    MAX_ROWS,
    add_annotations,
    annotation,
    fetch_all,
    prediction,
    row_counts,
    setup_dataset,
    setup_run,
)

Sessions = async_sessionmaker[AsyncSession]


async def test_create_dataset_and_conflict(sessions: Sessions) -> None:
    async with transaction(sessions) as session:
        dataset = await catalog.create_dataset(session, name="cars", metadata={"source": "cam"})
    assert (
        dataset.id is not None and dataset.name == "cars" and dataset.metadata_ == {"source": "cam"}
    )
    with pytest.raises(Conflict):
        async with transaction(sessions) as session:
            await catalog.create_dataset(session, name="cars", metadata=None)
    # The refused insert did not poison the next transaction.
    async with transaction(sessions) as session:
        other = await catalog.create_dataset(session, name="bikes", metadata=None)
    assert other.id != dataset.id


@pytest.mark.parametrize(
    ("name", "metadata", "paths"),
    [
        ("", None, ["input.name"]),
        ("x" * 256, None, ["input.name"]),
        ("ok", [1], ["input.metadata"]),
        ("ok", {"a": float("nan")}, ["input.metadata.a"]),
        ("", "text", ["input.name", "input.metadata"]),
    ],
)
async def test_create_dataset_invalid(
    sessions: Sessions, name: str, metadata: object, paths: list[str]
) -> None:
    async with transaction(sessions) as session:
        with pytest.raises(InvalidInput) as info:
            await catalog.create_dataset(session, name=name, metadata=metadata)
    assert [i.path for i in info.value.issues] == paths


async def test_models_and_runs(sessions: Sessions) -> None:
    dataset_id = await setup_dataset(sessions, ["a"])
    async with transaction(sessions) as session:
        model = await catalog.create_model(
            session, name="yolo", reference_id="yolo-v8", metadata=None
        )
        run = await catalog.create_model_run(
            session, model_id=str(model.id), dataset_id=dataset_id, name="r1"
        )
    assert run.labels_all is True and run.data_version == 0
    with pytest.raises(Conflict):
        async with transaction(sessions) as session:
            await catalog.create_model(session, name="other", reference_id="yolo-v8", metadata=None)
    with pytest.raises(Conflict):
        async with transaction(sessions) as session:
            await catalog.create_model_run(
                session, model_id=str(model.id), dataset_id=dataset_id, name="r1"
            )
    async with transaction(sessions) as session:
        with pytest.raises(NotFound) as info:
            await catalog.create_model_run(
                session, model_id="424242", dataset_id=dataset_id, name="r2"
            )
        assert info.value.path == "input.modelId"
        with pytest.raises(NotFound) as info:
            await catalog.create_model_run(
                session, model_id=str(model.id), dataset_id="x", name="r2"
            )
        assert info.value.path == "input.datasetId"
        with pytest.raises(InvalidInput) as bad:
            await catalog.create_model_run(
                session, model_id=str(model.id), dataset_id=dataset_id, name=""
            )
        assert [i.path for i in bad.value.issues] == ["input.name"]


async def test_slices(sessions: Sessions) -> None:
    dataset_id = await setup_dataset(sessions, ["a", "b", "c"])
    rain = {"metadata": {"field": "weather", "op": "EQ", "value": "rain"}}
    async with transaction(sessions) as session:
        dynamic = await catalog.create_slice(
            session, dataset_id=dataset_id, name="rain", filter=rain, reference_ids=None
        )
        fixed = await catalog.create_slice(
            session, dataset_id=dataset_id, name="ab", filter=None, reference_ids=["a", "b"]
        )
        both = await catalog.create_slice(
            session, dataset_id=dataset_id, name="rain-ab", filter=rain, reference_ids=["b"]
        )
    assert (dynamic.filter, dynamic.reference_ids) == (rain, None)
    assert (fixed.filter, fixed.reference_ids) == (None, ["a", "b"])
    assert (both.filter, both.reference_ids) == (rain, ["b"])
    with pytest.raises(Conflict):
        async with transaction(sessions) as session:
            await catalog.create_slice(
                session, dataset_id=dataset_id, name="ab", filter=rain, reference_ids=None
            )
    async with transaction(sessions) as session:
        with pytest.raises(InvalidInput) as info:
            await catalog.create_slice(
                session, dataset_id=dataset_id, name="x", filter=None, reference_ids=None
            )
        assert [i.path for i in info.value.issues] == ["input"]
        with pytest.raises(InvalidInput) as info:
            await catalog.create_slice(
                session,
                dataset_id=dataset_id,
                name="",
                filter=None,
                reference_ids=["a", "ghost", "a", ""],
            )
        assert [i.path for i in info.value.issues] == [
            "input.name",
            "input.referenceIds[2]",
            "input.referenceIds[3]",
            "input.referenceIds[1]",
        ]
        with pytest.raises(InvalidInput) as info:
            await catalog.create_slice(
                session,
                dataset_id=dataset_id,
                name="bad",
                filter={"metadata": {"field": "a;b", "op": "EQ", "value": 1}},
                reference_ids=None,
            )
        assert all(i.path.startswith("input.filter") for i in info.value.issues)
        with pytest.raises(NotFound) as missing:
            await catalog.create_slice(
                session, dataset_id="77", name="x", filter=rain, reference_ids=None
            )
        assert missing.value.path == "input.datasetId"
    assert len(await fetch_all(sessions, Slice)) == 3


async def test_delete_dataset_cascades(sessions: Sessions) -> None:
    dataset_id = await setup_dataset(sessions, ["a", "b"])
    kept_id = await setup_dataset(sessions, ["a"], name="kept")
    run_id = await setup_run(sessions, dataset_id)
    async with transaction(sessions) as session:
        await add_annotations(session, dataset_id, annotation("a", "1"))
        await add_annotations(session, kept_id, annotation("a", "1"))
        await uploads.upsert_predictions(
            session,
            model_run_id=run_id,
            predictions=[prediction("b", "1")],
            update=False,
            max_rows=MAX_ROWS,
        )
        await uploads.upsert_labels(session, model_run_id=run_id, annotation_ids=["1"], all=None)
        await catalog.create_slice(
            session, dataset_id=dataset_id, name="s", filter=None, reference_ids=["a"]
        )
    async with transaction(sessions) as session:
        assert await catalog.delete_dataset(session, dataset_id=dataset_id) == int(dataset_id)
    assert await row_counts(sessions) == {
        "dataset": 1,
        "item": 1,
        "annotation": 1,
        "model_run": 0,
        "prediction": 0,
    }
    assert await fetch_all(sessions, Slice) == []
    async with transaction(sessions) as session:
        with pytest.raises(NotFound) as info:
            await catalog.delete_dataset(session, dataset_id=dataset_id)
    assert info.value.path == "id"
