"""The upload hooks: what they take from strawberry and graphql-core still exists, and a batch
reaches the resolver in ``schema/mutation.py`` as plain snake_case rows by every path."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import pytest
from graphql import GraphQLSchema, parse
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types import Info as StrawberryInfo

from sliceboard.schema import mutation
from sliceboard.schema.errors import UpsertResult
from sliceboard.schema.input_coercion import SnakeRows
from sliceboard.schema.schema import build_schema
from sliceboard.schema.upload_hooks import (
    UploadExecutionContext,
    UploadHooksBroken,
    batch_coercers,
    graphql_core_schema,
)
from sliceboard.schema.uploads import BATCH_FIELDS, PREDICTIONS, BatchField
from tests.support.graphql import Executor

SCHEMA = graphql_core_schema(build_schema())
SENT = {"referenceId": "img1", "annotationId": "p1", "label": "car", "confidence": 1}
# By hand, not by the code under test: keys renamed, Float coerced, no other field filled in.
PLAIN = {"reference_id": "img1", "annotation_id": "p1", "label": "car", "confidence": 1.0}


def test_strawberry_still_offers_what_the_hooks_rely_on() -> None:
    build = inspect.signature(StrawberryGraphQLCoreExecutionContext.build)
    assert list(build.parameters)[:6] == [
        "schema",
        "document",
        "root_value",
        "context_value",
        "raw_variable_values",
        "operation_name",
    ], "graphql-core's ExecutionContext.build changed its parameters; see schema/upload_hooks.py"
    info_fields = {field.name for field in dataclasses.fields(StrawberryInfo)}
    assert {"_raw_info", "_field"} <= info_fields, (
        "strawberry's Info is no longer built from (_raw_info, _field); see schema/upload_hooks.py"
    )
    for batch in BATCH_FIELDS:
        resolve = SCHEMA.mutation_type.fields[batch.field].resolve  # type: ignore[union-attr]
        assert resolve is not None and resolve.__qualname__.startswith("_plain_rows_resolver"), (
            f"{batch.field} no longer resolves through schema/upload_hooks.py"
        )


def test_a_missing_internal_fails_with_a_message_naming_it() -> None:
    with pytest.raises(UploadHooksBroken, match=r"strawberry\.Schema\._schema is a GraphQLSchema"):
        graphql_core_schema(object())  # type: ignore[arg-type]


def test_the_executor_coerces_batches_itself() -> None:
    document = parse(
        "mutation($id: ID!, $rows: [PredictionInput!]!) "
        "{ upsertPredictions(modelRunId: $id, predictions: $rows) { __typename } }"
    )
    built = UploadExecutionContext.build(
        SCHEMA, document, raw_variable_values={"id": "1", "rows": [SENT]}
    )
    assert not isinstance(built, list)
    rows = built.variable_values.coerced["rows"]
    assert type(rows) is SnakeRows and rows == [PLAIN]
    assert built.variable_values.sources["rows"].value == [SENT]
    assert set(batch_coercers(SCHEMA)) == {
        f"[{name}!]{bang}"
        for name in ("PredictionInput", "AnnotationInput", "ItemInput")
        for bang in ("", "!")
    }


def test_the_batch_table_names_the_schemas_fields_and_the_services_keywords() -> None:
    assert isinstance(SCHEMA, GraphQLSchema) and SCHEMA.mutation_type is not None
    for batch in BATCH_FIELDS:
        arguments = SCHEMA.mutation_type.fields[batch.field].args
        assert str(arguments[batch.id_argument].type) == "ID!"
        assert str(arguments[batch.rows_argument].type).startswith("[")
        assert set(batch.service_keywords) <= set(inspect.signature(batch.service).parameters)


UPSERT = "mutation($id: ID!, $rows: [PredictionInput!]!) { upsertPredictions(modelRunId: $id, predictions: $rows) { __typename } }"
INLINE = 'mutation { upsertPredictions(modelRunId: "7", predictions: [{referenceId: "img1", annotationId: "p1", label: "car", confidence: 1}]) { __typename } }'


@pytest.mark.parametrize(
    ("query", "variables", "precompiled", "expected"),
    [
        (UPSERT, {"id": "7", "rows": [SENT]}, True, PLAIN),
        (INLINE, None, False, PLAIN),
        # A lone object where a list is expected: the fast path leaves it to graphql-core.
        (
            UPSERT,
            {"id": "7", "rows": [{**SENT, "classifications": {"name": "c", "value": "v"}}]},
            False,
            {**PLAIN, "classifications": [{"name": "c", "value": "v"}]},
        ),
    ],
)
async def test_the_resolver_body_receives_plain_rows(
    execute_sqlite: Executor,
    monkeypatch: pytest.MonkeyPatch,
    query: str,
    variables: dict[str, Any] | None,
    precompiled: bool,
    expected: dict[str, Any],
) -> None:
    calls: list[tuple[BatchField, str, list[Any], bool]] = []

    async def record(
        context: Any, batch: BatchField, *, target_id: str, rows: list[Any], update: bool
    ) -> UpsertResult:
        calls.append((batch, target_id, rows, update))
        return UpsertResult(new=len(rows), updated=0, ignored=0)

    monkeypatch.setattr(mutation, "upload_rows", record)
    data = await execute_sqlite.data(query, variables)
    assert data == {"upsertPredictions": {"__typename": "UpsertResult"}}
    [(batch, target_id, rows, update)] = calls
    assert (batch, target_id, update) == (PREDICTIONS, "7", False)
    assert (type(rows) is SnakeRows) is precompiled
    assert rows == [expected]
