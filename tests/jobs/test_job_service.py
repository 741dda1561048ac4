"""The job service: input checks, GraphQL-ID parsing, a run's jobs, cascade with the run."""

from __future__ import annotations

import pytest
from sqlalchemy import delete
from sqlmodel import col

from sliceboard.errors import InvalidInput, NotFound
from sliceboard.runtime import Runtime
from sliceboard.services.jobs import cancel_job, enqueue_job, get_job, list_jobs_for_run
from sliceboard.storage.db import read_session, transaction
from sliceboard.storage.tables import Dataset, Model, ModelRun


async def make_run(runtime: Runtime) -> int:
    async with transaction(runtime.sessions) as session:
        dataset, model = Dataset(name="d"), Model(name="m", reference_id="m")
        session.add_all([dataset, model])
        await session.flush()
        assert dataset.id is not None and model.id is not None
        run = ModelRun(model_id=model.id, dataset_id=dataset.id, name="r")
        session.add(run)
        await session.flush()
        assert run.id is not None
        return run.id


async def test_enqueue_checks_its_input(runtime: Runtime) -> None:
    async with transaction(runtime.sessions) as session:
        with pytest.raises(InvalidInput) as caught:
            await enqueue_job(session, kind="", payload=None, max_attempts=0)
    assert [issue.path for issue in caught.value.issues] == ["kind", "maxAttempts"]


async def test_ids_that_name_nothing(runtime: Runtime) -> None:
    async with transaction(runtime.sessions) as session:
        for raw in ("0", "-1", "abc", "99999", "1.5"):
            assert await get_job(session, job_id=raw) is None
            with pytest.raises(NotFound) as caught:
                await cancel_job(session, job_id=raw)
            assert caught.value.path == "id"


async def test_a_run_lists_its_jobs_newest_first_and_they_go_with_it(runtime: Runtime) -> None:
    run_id = await make_run(runtime)
    async with transaction(runtime.sessions) as session:
        first = await enqueue_job(
            session, kind="evaluate", payload={"v": 1}, model_run_id=run_id, max_attempts=3
        )
        second = await enqueue_job(
            session, kind="evaluate", payload={"v": 2}, model_run_id=run_id, max_attempts=1
        )
        await enqueue_job(session, kind="other", payload=None, max_attempts=3)
    async with read_session(runtime.sessions) as session:
        jobs = await list_jobs_for_run(session, model_run_id=run_id)
        assert [(job.id, job.payload, job.max_attempts) for job in jobs] == [
            (second.id, {"v": 2}, 1),
            (first.id, {"v": 1}, 3),
        ]
        found = await get_job(session, job_id=f" {first.id} ")
        assert found is not None and (found.status, found.kind) == ("QUEUED", "evaluate")
    async with transaction(runtime.sessions) as session:
        await session.execute(delete(ModelRun).where(col(ModelRun.id) == run_id))
    async with read_session(runtime.sessions) as session:
        assert await list_jobs_for_run(session, model_run_id=run_id) == []
        assert await get_job(session, job_id=str(first.id)) is None
