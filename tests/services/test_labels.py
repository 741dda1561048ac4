"""upsertLabels: which ground truth a run is judged against."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sliceboard.errors import InvalidInput, NotFound
from sliceboard.services import uploads
from sliceboard.storage.db import transaction
from sliceboard.storage.tables import Annotation, ModelRun, ModelRunLabel, core
from tests.support.factories import MAX_ROWS, add_annotations, annotation, setup_dataset, setup_run

Sessions = async_sessionmaker[AsyncSession]


async def _label_set(sessions: Sessions) -> set[tuple[int, str]]:
    async with sessions() as session:
        annotation_table, label_table = core(Annotation), core(ModelRunLabel)
        rows = await session.execute(
            sa.select(annotation_table.c.item_id, annotation_table.c.annotation_id).join(
                label_table, label_table.c.annotation_pk == annotation_table.c.id
            )
        )
        return {(r[0], r[1]) for r in rows}


async def _set(
    sessions: Sessions, run_id: str, ids: list[str] | None, all: bool | None
) -> ModelRun:
    async with transaction(sessions) as session:
        return await uploads.upsert_labels(
            session, model_run_id=run_id, annotation_ids=ids, all=all
        )


async def test_narrow_extend_and_back_to_all(sessions: Sessions) -> None:
    dataset_id = await setup_dataset(sessions, ["a", "b"])
    run_id = await setup_run(sessions, dataset_id)
    async with transaction(sessions) as session:
        await uploads.upsert_annotations(
            session,
            dataset_id=dataset_id,
            annotations=[
                annotation("a", "1"),
                annotation("a", "2"),
                annotation("b", "1"),
                annotation("b", "3"),
            ],
            update=False,
            max_rows=MAX_ROWS,
        )
    run = await _set(sessions, run_id, ["2"], None)
    assert (run.labels_all, run.data_version) == (False, 1)
    assert {key for _, key in await _label_set(sessions)} == {"2"}
    run = await _set(sessions, run_id, ["1", "2"], None)  # "1" names an annotation on both items
    assert (run.labels_all, run.data_version) == (False, 2)
    assert sorted(key for _, key in await _label_set(sessions)) == ["1", "1", "2"]
    run = await _set(sessions, run_id, ["1"], None)  # nothing new: no bump
    assert run.data_version == 2
    run = await _set(sessions, run_id, None, True)
    assert (run.labels_all, run.data_version) == (True, 3)
    assert await _label_set(sessions) == set()
    run = await _set(sessions, run_id, None, True)
    assert run.data_version == 3


async def test_unknown_and_conflicting_arguments(sessions: Sessions) -> None:
    dataset_id = await setup_dataset(sessions, ["a"])
    other_id = await setup_dataset(sessions, ["a"], name="other")
    run_id = await setup_run(sessions, dataset_id)
    async with transaction(sessions) as session:
        await add_annotations(session, dataset_id, annotation("a", "1"))
        await add_annotations(session, other_id, annotation("a", "elsewhere"))
    async with transaction(sessions) as session:
        with pytest.raises(InvalidInput) as info:
            await uploads.upsert_labels(
                session, model_run_id=run_id, annotation_ids=["1", "elsewhere", ""], all=None
            )
        assert [i.path for i in info.value.issues] == ["annotationIds[2]"]
        with pytest.raises(InvalidInput) as info:
            await uploads.upsert_labels(
                session, model_run_id=run_id, annotation_ids=["1", "elsewhere"], all=None
            )
        assert [i.path for i in info.value.issues] == ["annotationIds[1]"]
        with pytest.raises(InvalidInput):
            await uploads.upsert_labels(
                session, model_run_id=run_id, annotation_ids=["1"], all=True
            )
        with pytest.raises(InvalidInput):
            await uploads.upsert_labels(session, model_run_id=run_id, annotation_ids=None, all=None)
        with pytest.raises(NotFound) as missing:
            await uploads.upsert_labels(
                session, model_run_id="12345", annotation_ids=["1"], all=None
            )
        assert missing.value.path == "modelRunId"
    run = await _set(sessions, run_id, None, False)  # explicit mode, empty set
    assert (run.labels_all, run.data_version) == (False, 1)
    assert await _label_set(sessions) == set()
