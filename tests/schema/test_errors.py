"""Top-level errors carry extensions.code and leak nothing; expected failures are payloads."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from sliceboard.config import Settings
from sliceboard.runtime import Runtime
from sliceboard.storage.db import transaction
from tests.support.graphql import Executor

CREATE = """mutation($name: String!) { createDataset(input: {name: $name}) {
  __typename ... on Dataset { id } ... on Error { message } ... on InvalidInputError { issues { path message } } } }"""


async def _dataset(execute: Executor, name: str = "d") -> str:
    data = await execute.data(CREATE, {"name": name})
    return str(data["createDataset"]["id"])


async def test_depth_above_the_limit_is_refused(execute_sqlite: Executor) -> None:
    inner = "id"
    for _ in range(8):
        inner = f"modelRuns {{ dataset {{ {inner} }} }}"
    _, errors = await execute_sqlite.run(f"{{ datasets {{ edges {{ node {{ {inner} }} }} }} }}")
    assert [e["extensions"]["code"] for e in errors] == ["LIMIT_EXCEEDED"]
    assert "depth" in errors[0]["message"]


async def test_depth_within_the_limit_runs(execute_sqlite: Executor) -> None:
    # Paged at one row a level, so the cost limit lets the depth limit be the one tested.
    inner = "id"
    for _ in range(3):
        inner = f"modelRunsConnection(first: 1) {{ edges {{ node {{ dataset {{ {inner} }} }} }} }}"
    document = f"{{ datasets(first: 1) {{ edges {{ node {{ {inner} }} }} }} }}"
    assert await execute_sqlite.data(document) == {"datasets": {"edges": []}}


async def test_aliases_above_the_limit_are_refused(execute_sqlite: Executor) -> None:
    aliases = " ".join(f"a{i}: datasets {{ totalCount }}" for i in range(31))
    _, errors = await execute_sqlite.run(f"{{ {aliases} }}")
    assert [e["extensions"]["code"] for e in errors] == ["LIMIT_EXCEEDED"]


async def test_page_size_and_cursor_errors(execute_sqlite: Executor) -> None:
    _, errors = await execute_sqlite.run("{ datasets(first: 101) { totalCount } }")
    assert errors[0]["extensions"] == {"code": "LIMIT_EXCEEDED"}
    _, errors = await execute_sqlite.run("{ datasets(first: -1) { totalCount } }")
    assert errors[0]["extensions"] == {"code": "BAD_USER_INPUT"}
    _, errors = await execute_sqlite.run('{ datasets(after: "not a cursor") { totalCount } }')
    assert errors[0]["extensions"] == {"code": "BAD_USER_INPUT"}
    # A cursor of another connection is not accepted either.
    _, errors = await execute_sqlite.run(
        '{ datasets(after: "TW9kZWw6MQ==") { totalCount } }'
    )  # Model:1
    assert errors[0]["extensions"] == {"code": "BAD_USER_INPUT"}


async def test_unknown_field_is_a_validation_error(execute_sqlite: Executor) -> None:
    _, errors = await execute_sqlite.run("{ datasets { nope } }")
    assert errors[0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_bad_variables_are_bad_user_input(execute_sqlite: Executor) -> None:
    _, errors = await execute_sqlite.run("query($id: ID!) { modelRun(id: $id) { id } }", {})
    assert errors[0]["extensions"] == {"code": "BAD_USER_INPUT"} and "$id" in errors[0]["message"]
    _, errors = await execute_sqlite.run(
        "query($n: Int) { datasets(first: $n) { totalCount } }", {"n": "many"}
    )
    assert errors[0]["extensions"] == {"code": "BAD_USER_INPUT"}


async def test_a_bug_is_masked_as_internal(
    execute_sqlite: Executor, caplog: pytest.LogCaptureFixture
) -> None:
    dataset_id = await _dataset(execute_sqlite)
    # A row the upload path would never write: its geometry lacks the box fields.
    async with transaction(execute_sqlite.runtime.sessions) as session:
        await session.execute(
            text(
                "INSERT INTO item (dataset_id, reference_id, created_at) VALUES (:d, 'r', '2024-01-01')"
            ),
            {"d": int(dataset_id)},
        )
        await session.execute(
            text(
                "INSERT INTO annotation (dataset_id, item_id, annotation_id, label, type, geometry, iscrowd, created_at)"
                " VALUES (:d, 1, 'a', 'car', 'BOX', '{}', 0, '2024-01-01')"
            ),
            {"d": int(dataset_id)},
        )
    _data, errors = await execute_sqlite.run(
        "query($id: ID) { dataset(id: $id) { annotations { edges { node { label geometry { __typename } } } } } }",
        {"id": dataset_id},
    )
    assert errors == [
        {
            "message": "Internal server error.",
            "locations": errors[0]["locations"],
            "path": ["dataset", "annotations", "edges", 0, "node", "geometry"],
            "extensions": {"code": "INTERNAL"},
        }
    ]
    assert "KeyError" not in str(errors) and "Traceback" not in str(errors)
    # ... while the server log keeps the whole story.
    assert any(record.exc_info and record.exc_info[0] is KeyError for record in caplog.records)


async def test_bad_filter_is_invalid_input_with_issues(execute_sqlite: Executor) -> None:
    dataset_id = await _dataset(execute_sqlite)
    _, errors = await execute_sqlite.run(
        """query($id: ID) { dataset(id: $id) {
             items(filter: {metadata: {field: "a;drop", op: GT, value: true}}) { totalCount } } }""",
        {"id": dataset_id},
    )
    assert errors[0]["extensions"]["code"] == "INVALID_INPUT"
    assert {i["path"] for i in errors[0]["extensions"]["issues"]} == {
        "filter.metadata.field",
        "filter.metadata.value",
    }


async def test_metrics_before_any_evaluation_is_a_failed_precondition(
    execute_sqlite: Executor,
) -> None:
    dataset_id = await _dataset(execute_sqlite)
    model = await execute_sqlite.data(
        'mutation { createModel(input: {name: "m", referenceId: "m"}) { ... on Model { id } } }'
    )
    run = await execute_sqlite.data(
        'mutation($m: ID!, $d: ID!) { createModelRun(input: {modelId: $m, datasetId: $d, name: "r"}) { ... on ModelRun { id } } }',
        {"m": model["createModel"]["id"], "d": dataset_id},
    )
    run_id = run["createModelRun"]["id"]
    data, errors = await execute_sqlite.run(
        "query($id: ID!) { modelRun(id: $id) { evaluation { id } metrics { itemCount } } }",
        {"id": run_id},
    )
    assert data is None or data["modelRun"] is None
    assert [e["extensions"]["code"] for e in errors] == ["FAILED_PRECONDITION"]
    assert "calculateEvaluationMetrics" in errors[0]["message"]
    evaluation = await execute_sqlite.data(
        "query($id: ID!) { modelRun(id: $id) { evaluation { id } } }", {"id": run_id}
    )
    assert evaluation["modelRun"]["evaluation"] is None
    payload = await execute_sqlite.data(
        "mutation($id: ID!) { calculateEvaluationMetrics(modelRunId: $id) { __typename ... on Job { status kind } } }",
        {"id": run_id},
    )
    assert payload["calculateEvaluationMetrics"] == {
        "__typename": "Job",
        "status": "QUEUED",
        "kind": "evaluate",
    }


async def test_expected_errors_are_not_logged(
    execute_sqlite: Executor, caplog: pytest.LogCaptureFixture
) -> None:
    _, errors = await execute_sqlite.run(
        "{ datasets(first: 1000) { totalCount } a: dataset { id } }"
    )
    assert len(errors) == 2 and caplog.records == []


async def test_expected_failures_are_payloads(execute_sqlite: Executor) -> None:
    await _dataset(execute_sqlite, "taken")
    conflict = await execute_sqlite.data(CREATE, {"name": "taken"})
    assert conflict["createDataset"]["__typename"] == "ConflictError"
    invalid = await execute_sqlite.data(CREATE, {"name": ""})
    assert invalid["createDataset"]["__typename"] == "InvalidInputError"
    assert invalid["createDataset"]["issues"][0]["path"] == "input.name"
    missing = await execute_sqlite.data(
        'mutation { upsertItems(datasetId: "999", items: [{referenceId: "a"}]) { __typename ... on Error { message } } }'
    )
    assert missing["upsertItems"]["__typename"] == "NotFoundError"
    deleted = await execute_sqlite.data('mutation { deleteDataset(id: "nope") { __typename } }')
    assert deleted["deleteDataset"]["__typename"] == "NotFoundError"


async def test_queries_answer_null_for_unknown_ids(execute_sqlite: Executor) -> None:
    data = await execute_sqlite.data(
        '{ dataset(id: "42") { id } byName: dataset(name: "x") { id } model(id: "x") { id } modelRun(id: "7") { id } job(id: "1") { id } }'
    )
    assert data == {"dataset": None, "byName": None, "model": None, "modelRun": None, "job": None}


async def test_batches_above_max_batch_rows_are_rejected_whole(sqlite_url: str) -> None:
    runtime = Runtime.create(Settings(database_url=sqlite_url, run_jobs=False, max_batch_rows=3))
    try:
        execute = Executor(runtime)
        dataset_id = await _dataset(execute)
        upsert = """mutation($d: ID!, $i: [ItemInput!]!) { upsertItems(datasetId: $d, items: $i) {
          __typename ... on InvalidInputError { message issues { path message } } } }"""
        rejected = await execute.data(
            upsert, {"d": dataset_id, "i": [{"referenceId": f"r{i}"} for i in range(4)]}
        )
        assert rejected["upsertItems"]["__typename"] == "InvalidInputError"
        assert rejected["upsertItems"]["issues"][0]["path"] == "items"
        assert "3" in rejected["upsertItems"]["issues"][0]["message"]
        count = await execute.data(
            "query($d: ID) { dataset(id: $d) { items { totalCount } } }", {"d": dataset_id}
        )
        assert count["dataset"]["items"]["totalCount"] == 0
        accepted = await execute.data(
            upsert, {"d": dataset_id, "i": [{"referenceId": f"r{i}"} for i in range(3)]}
        )
        assert accepted["upsertItems"] == {"__typename": "UpsertResult"}
    finally:
        await runtime.close()
