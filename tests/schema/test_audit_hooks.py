"""The audit hook on mutations that raise, crash or fail after an earlier commit, on a schema
of its own over the real databases; and the codes it derives."""

from __future__ import annotations

import asyncio
import time

import strawberry

from sliceboard.errors import Conflict, NotFound
from sliceboard.runtime import Runtime
from sliceboard.schema import audit_hooks
from sliceboard.schema.context import Context, Info
from sliceboard.schema.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    RateLimitedError,
)
from sliceboard.schema.extensions import ErrorCodes, PublicError
from sliceboard.services import audit


@strawberry.type
class Query:
    ok: bool = True


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def refuse(self, dataset_id: strawberry.ID) -> bool:
        raise PublicError("needs scope write", code="FORBIDDEN", scope="write")

    @strawberry.mutation
    async def crash(self) -> bool:
        raise RuntimeError("secret detail of a bug")

    @strawberry.mutation
    async def commit_then_fail(self, info: Info, dataset_id: strawberry.ID) -> NotFoundError:
        async with info.context.runtime.unit_of_work():
            pass  # an earlier step committed (and wrote the entry as OK) ...
        return NotFoundError(message="... then a later one found nothing")

    @strawberry.mutation
    async def hang(self, info: Info) -> bool:
        async with info.context.runtime.unit_of_work():
            await asyncio.Event().wait()  # until cancelled, inside its transaction
        return True

    @strawberry.mutation
    async def two_steps(self, info: Info) -> bool:
        for _ in range(2):
            async with info.context.runtime.unit_of_work():
                pass
        return True


def _schema() -> strawberry.Schema:
    schema = strawberry.Schema(query=Query, mutation=Mutation, extensions=[ErrorCodes])
    audit_hooks.install(schema)
    return schema


async def _entries(runtime: Runtime) -> list[tuple[str, str, int | None, str | None]]:
    async with runtime.reading() as session:
        page = await audit.page_entries(
            session, where=audit.AuditFilter(), before_id=None, limit=20
        )
    return [(e.operation, e.outcome, e.dataset_id, e.message) for e in reversed(page.rows)]


async def test_raised_crashed_and_corrected_outcomes(runtime: Runtime) -> None:
    schema = _schema()
    context = Context.create(runtime)
    refused = await schema.execute('mutation { refuse(datasetId: "5") }', context_value=context)
    assert refused.errors and refused.errors[0].extensions == {
        "code": "FORBIDDEN",
        "scope": "write",
    }
    crashed = await schema.execute("mutation { crash }", context_value=context)
    assert crashed.errors and crashed.errors[0].extensions == {"code": "INTERNAL"}
    failed = await schema.execute(
        'mutation { commitThenFail(datasetId: "8") { message } }', context_value=context
    )
    assert failed.errors is None
    stepped = await schema.execute("mutation { twoSteps }", context_value=context)
    assert stepped.data == {"twoSteps": True}
    assert await _entries(runtime) == [
        ("refuse", "FORBIDDEN", 5, "needs scope write"),
        ("crash", "INTERNAL", None, None),  # a bug's text stays in the server's log
        ("commitThenFail", "NOT_FOUND", 8, "... then a later one found nothing"),
        ("twoSteps", "OK", None, None),  # one entry, however many commits
    ]


def test_codes() -> None:
    assert audit_hooks.payload_code(InvalidInputError(message="m", issues=[])) == "INVALID_INPUT"
    assert audit_hooks.payload_code(NotFoundError(message="m")) == "NOT_FOUND"
    assert audit_hooks.payload_code(ConflictError(message="m")) == "CONFLICT"
    limited = RateLimitedError(message="m", retry_after_seconds=1.0)
    assert audit_hooks.payload_code(limited) == "RATE_LIMITED"
    assert audit_hooks.payload_code(object()) == "OK"
    assert audit_hooks.exception_code(NotFound("Dataset", "1")) == "NOT_FOUND"
    assert audit_hooks.exception_code(Conflict("taken")) == "CONFLICT"
    assert audit_hooks.exception_code(ValueError("bug")) == "INTERNAL"


def test_dataset_hints() -> None:
    hint = audit_hooks.dataset_hint
    assert hint("upsertItems", {"datasetId": "4"}) == audit.DatasetHint(dataset_id=4)
    assert hint("createSlice", {"input": {"datasetId": "6"}}) == audit.DatasetHint(dataset_id=6)
    assert hint("deleteDataset", {"id": "9"}) == audit.DatasetHint(dataset_id=9)
    assert hint("cancelJob", {"id": "9"}) == audit.DatasetHint()  # a job's id is no dataset's
    assert hint("upsertPredictions", {"modelRunId": "3"}) == audit.DatasetHint(model_run_id=3)
    assert hint("createDataset", {"input": {"name": "cars"}}) == audit.DatasetHint(
        dataset_name="cars"
    )
    assert hint("upsertItems", {"datasetId": "x"}) == audit.DatasetHint()


async def test_a_cancelled_mutation_is_logged_after_its_rollback(runtime: Runtime) -> None:
    schema = _schema()
    request = asyncio.ensure_future(
        schema.execute("mutation { hang }", context_value=Context.create(runtime))
    )
    deadline = time.monotonic() + 10
    while not request.done() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)  # let it reach its transaction
        if runtime.database.sync_engine.pool.checkedout():  # type: ignore[attr-defined]
            break
    request.cancel()
    result = await asyncio.gather(request, return_exceptions=True)
    assert isinstance(result[0], asyncio.CancelledError)
    while time.monotonic() < deadline:
        entries = await _entries(runtime)
        if entries:
            break
        await asyncio.sleep(0.05)
    assert entries == [("hang", "CANCELLED", None, "the request ended before the mutation did")]
