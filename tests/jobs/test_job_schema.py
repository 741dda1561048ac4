"""The GraphQL face of jobs: the Job type in a real strawberry schema, job/cancelJob, and the
subscription generator (iterated directly; the websocket transport is tested with the app)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from types import SimpleNamespace

import pytest
import strawberry

from sliceboard.errors import NotFound
from sliceboard.jobs.context import JobContext
from sliceboard.jobs.runner import JobRunner
from sliceboard.runtime import Runtime
from sliceboard.schema.errors import NotFoundError
from sliceboard.schema.jobs import CancelJobPayload, Job, JobStatus, cancel_job, job, job_updates
from tests.support.jobs import enqueue


def info_for(runtime: Runtime):
    return SimpleNamespace(context=SimpleNamespace(runtime=runtime))


@strawberry.type
class Query:
    job: Job | None = strawberry.field(resolver=job)


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def cancel_job(self, info: strawberry.Info, id: strawberry.ID) -> CancelJobPayload:
        return await cancel_job(info, id)


SCHEMA = strawberry.Schema(query=Query, mutation=Mutation)
FIELDS = "id kind status progress message error attempts createdAt startedAt finishedAt"
CANCEL = """mutation($id: ID!) { cancelJob(id: $id) {
  __typename ... on Job { status finishedAt } ... on NotFoundError { message } } }"""


async def test_job_query_and_cancel_job_through_a_schema(runtime: Runtime) -> None:
    job_id = await enqueue(runtime, kind="evaluate")
    context = SimpleNamespace(runtime=runtime)
    result = await SCHEMA.execute(
        f'{{ job(id: "{job_id}") {{ {FIELDS} }} }}', context_value=context
    )
    assert result.errors is None and result.data is not None
    data = result.data["job"]
    assert (data["id"], data["kind"], data["status"], data["progress"], data["attempts"]) == (
        str(job_id),
        "evaluate",
        "QUEUED",
        0.0,
        0,
    )
    assert data["createdAt"].endswith("+00:00") and data["startedAt"] is None
    for missing in ("999999", "x"):
        result = await SCHEMA.execute(f'{{ job(id: "{missing}") {{ id }} }}', context_value=context)
        assert result.errors is None and result.data == {"job": None}

    result = await SCHEMA.execute(
        CANCEL, variable_values={"id": str(job_id)}, context_value=context
    )
    assert result.errors is None and result.data is not None
    cancelled = result.data["cancelJob"]
    assert (cancelled["__typename"], cancelled["status"]) == ("Job", "CANCELLED")
    assert cancelled["finishedAt"] is not None
    result = await SCHEMA.execute(CANCEL, variable_values={"id": "424242"}, context_value=context)
    assert result.errors is None and result.data is not None
    assert result.data["cancelJob"] == {
        "__typename": "NotFoundError",
        "message": "Job '424242' not found (id)",
    }
    assert isinstance(await cancel_job(info_for(runtime), strawberry.ID("nope")), NotFoundError)


async def collect(generator) -> list[tuple[JobStatus, float, str | None]]:
    return [(update.status, update.progress, update.message) async for update in generator]


async def until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Returns once ``condition()`` holds, checking at every pass of the loop until ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"never saw {what}"
        await asyncio.sleep(0.005)


async def test_the_subscription_follows_a_job_to_its_end(runtime: Runtime) -> None:
    seen: list[tuple[JobStatus, float, str | None]] = []

    async def follow_live() -> None:
        async for update in job_updates(info_for(runtime), strawberry.ID(str(job_id))):
            seen.append((update.status, update.progress, update.message))

    def last_message_is(message: str) -> bool:
        return seen[-1][2] == message

    async def stepper(context: JobContext) -> None:
        await until(lambda: any(status == JobStatus.RUNNING for status, _, _ in seen), "RUNNING")
        for step in range(1, 4):
            message = f"step {step}"
            await context.report(step / 4, message)
            # the subscriber sees each step before the next one is made
            await until(partial(last_message_is, message), message)

    job_id = await enqueue(runtime)
    updates = asyncio.create_task(follow_live())
    await until(lambda: len(seen) > 0, "the first update")  # subscribed while QUEUED
    runner = JobRunner(runtime, {"test": stepper}, progress_interval=0.0)
    await runner.start()
    try:
        await asyncio.wait_for(updates, 10)
    finally:
        await runner.stop()
    assert seen[0] == (JobStatus.QUEUED, 0.0, None)
    assert seen[-1] == (JobStatus.SUCCEEDED, 1.0, "step 3")
    order = [JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.SUCCEEDED]
    statuses = [status for status, _, _ in seen]
    assert statuses == sorted(statuses, key=order.index) and JobStatus.RUNNING in statuses
    # changes that land between two reads are coalesced: the subscriber sees the latest state
    progress = [p for _, p, _ in seen]
    assert progress == sorted(progress)
    assert len(seen) == len(set(seen))  # one update per change, no repeats


async def test_the_subscription_polls_changes_made_by_another_process(
    runtime: Runtime, settings
) -> None:
    """A writer with its own Runtime (so its own Notifier) is another process as far as the
    subscriber can tell: only the database connects them."""

    async def handler(context: JobContext) -> None:
        await context.report(0.5, "half")

    other = Runtime.create(replace(settings))
    try:
        job_id = await enqueue(other)
        generator = job_updates(info_for(runtime), strawberry.ID(str(job_id)))
        first = await anext(generator)
        await JobRunner(other, {"test": handler}, progress_interval=0.0).run_next()
        rest = await asyncio.wait_for(collect(generator), 5)
    finally:
        await other.close()
    assert first.status == JobStatus.QUEUED
    assert rest[-1] == (JobStatus.SUCCEEDED, 1.0, "half")


async def test_a_finished_job_yields_once_and_an_unknown_id_fails(runtime: Runtime) -> None:
    job_id = await enqueue(runtime)
    await cancel_job(info_for(runtime), strawberry.ID(str(job_id)))
    updates = await collect(job_updates(info_for(runtime), strawberry.ID(str(job_id))))
    assert updates == [(JobStatus.CANCELLED, 0.0, None)]
    with pytest.raises(NotFound):
        await collect(job_updates(info_for(runtime), strawberry.ID("123456")))
