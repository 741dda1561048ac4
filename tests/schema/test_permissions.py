"""The permission extension reads the root fields through fragments, refuses before anything
runs, fails closed for a field with no decision, and needs a principal."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from sliceboard.config import Settings
from sliceboard.principal import ADMIN, READ, WRITE, Principal
from sliceboard.runtime import Runtime
from sliceboard.schema.context import Context
from sliceboard.schema.permissions import UNLISTED, refusal, rule_for
from tests.support.graphql import Executor

READER = Principal(key_id=1, name="r", scope=READ, dataset_ids=None)
WRITER = Principal(key_id=2, name="w", scope=WRITE, dataset_ids=None)


@pytest.fixture
async def runtime(sqlite_url: str) -> AsyncIterator[Runtime]:
    runtime = Runtime.create(Settings(database_url=sqlite_url, run_jobs=False))
    yield runtime
    await runtime.close()


@pytest.mark.parametrize(
    "document",
    [
        'mutation { createDataset(input: {name: "x"}) { __typename } }',
        'mutation { ...M } fragment M on Mutation { createDataset(input: {name: "x"}) { __typename } }',
        'mutation { ... on Mutation { createDataset(input: {name: "x"}) { __typename } } }',
        'mutation { a: createModel(input: {name: "m", referenceId: "m"}) { __typename } '
        'b: createDataset(input: {name: "x"}) { __typename } }',
    ],
)
async def test_a_reader_is_refused_wherever_the_field_hides(
    runtime: Runtime, document: str
) -> None:
    data, errors = await Executor(runtime, READER).run(document)
    assert data is None
    assert [e["extensions"]["code"] for e in errors] == ["FORBIDDEN"]
    assert errors[0]["extensions"]["requiredScope"] == "write"
    # nothing ran: the writer sees no dataset
    assert await Executor(runtime, WRITER).data("{ datasets { totalCount } }") == {
        "datasets": {"totalCount": 0}
    }


async def test_the_chosen_operation_is_the_one_checked(runtime: Runtime) -> None:
    document = (
        "query Read { datasets { totalCount } } "
        'mutation Write { createDataset(input: {name: "x"}) { __typename } }'
    )
    result = await Executor(runtime, READER).schema.execute(
        document, operation_name="Read", context_value=Context.create(runtime, principal=READER)
    )
    assert result.errors is None and result.data == {"datasets": {"totalCount": 0}}


async def test_no_principal_is_unauthenticated(runtime: Runtime) -> None:
    result = await Executor(runtime).schema.execute(
        "{ datasets { totalCount } }", context_value=Context.create(runtime, principal=None)
    )
    assert result.errors is not None
    assert result.errors[0].extensions == {"code": "UNAUTHENTICATED"}


def test_a_field_without_a_decision_needs_an_unlimited_admin() -> None:
    assert rule_for("Query", "somethingNew", production=False) == UNLISTED
    limited_admin = Principal(key_id=3, name="a", scope=ADMIN, dataset_ids=frozenset({1}))
    admin = Principal(key_id=4, name="b", scope=ADMIN, dataset_ids=None)
    assert refusal(WRITER, "Query", "somethingNew", production=False) is not None
    assert refusal(limited_admin, "Query", "somethingNew", production=False) is not None
    assert refusal(admin, "Query", "somethingNew", production=False) is None
    assert refusal(READER, "Query", "__typename", production=True) is None
    assert refusal(READER, "Query", "__schema", production=False) is None
    assert refusal(READER, "Query", "__type", production=True) is not None
