"""uploadCustomMetrics and customMetrics through strawberry, on both backends.

The schema here is a minimal one built from the custom-metric resolvers alone (the served
schema wires the same resolvers into Mutation and ModelRun), so these tests pin the GraphQL shape of custom metrics on their own.
"""

from __future__ import annotations

import statistics
from typing import Any

import strawberry

from sliceboard.runtime import Runtime
from sliceboard.schema.context import Context
from sliceboard.schema.custom_metrics import (
    AggregatedMetric,
    UpsertPayload,
    model_run_custom_metrics,
    upload_custom_metrics,
)
from sliceboard.schema.extensions import ErrorCodes
from sliceboard.schema.filters import ItemFilter
from sliceboard.schema.schema import build_schema
from sliceboard.storage.db import transaction
from sliceboard.storage.tables import Slice
from tests.support.custom_metrics_setup import make_run


@strawberry.type
class Query:
    @strawberry.field
    async def custom_metrics(
        self,
        info: strawberry.Info,
        model_run_id: int,
        dataset_id: int,
        filter: ItemFilter | None = None,
        slice_id: strawberry.ID | None = None,
        names: list[str] | None = None,
    ) -> list[AggregatedMetric]:
        return await model_run_custom_metrics(
            info, model_run_id, dataset_id, filter, slice_id, names
        )


@strawberry.type
class Mutation:
    upload_custom_metrics: UpsertPayload = strawberry.mutation(resolver=upload_custom_metrics)


SCHEMA = strawberry.Schema(query=Query, mutation=Mutation, extensions=[ErrorCodes])

UPLOAD = """
mutation($run: ID!, $metrics: [CustomMetricInput!]!) {
  uploadCustomMetrics(modelRunId: $run, metrics: $metrics) {
    __typename
    ... on UpsertResult { new updated ignored }
    ... on InvalidInputError { issues { path message } }
    ... on NotFoundError { message }
  }
}"""

QUERY = """
query($run: Int!, $ds: Int!, $filter: ItemFilter, $slice: ID, $names: [String!]) {
  customMetrics(modelRunId: $run, datasetId: $ds, filter: $filter, sliceId: $slice, names: $names) {
    name aggregation source value count
    byConfidence { confidence value }
    confusion { tp fp tn fn precision recall f1 }
    byFeature { featureName value count bySubclass { subclassName value count } }
  }
}"""


async def execute(runtime: Runtime, query: str, **variables: Any) -> dict[str, Any]:
    result = await SCHEMA.execute(
        query, variable_values=variables, context_value=Context.create(runtime)
    )
    assert result.errors is None, result.errors
    assert result.data is not None
    return result.data


async def test_upload_then_aggregate_over_filter_and_slice(runtime: Runtime) -> None:
    run = await make_run(runtime.sessions, ["a", "b", "c"])
    metrics = [
        {"name": "bbw", "referenceId": "a", "featureName": "cat", "value": 2.0},
        {"name": "bbw", "referenceId": "a", "featureName": "dog", "value": 4.0},
        {
            "name": "bbw",
            "referenceId": "b",
            "featureName": "cat",
            "subclassName": "orange",
            "value": 9.0,
        },
        {"name": "tp", "referenceId": "a", "featureName": "cat", "value": 3, "aggregation": "SUM"},
        {"name": "tp", "referenceId": "c", "featureName": "dog", "value": 4, "aggregation": "SUM"},
        {"name": "cm", "referenceId": "c", "confusion": {"tp": 3, "fp": 1, "tn": 0, "fn": 2}},
        {
            "name": "pr",
            "referenceId": "b",
            "valuesByConfidence": [
                {"confidence": 0.2, "value": 0.5},
                {"confidence": 0.8, "value": 0.25},
            ],
        },
    ]
    data = await execute(runtime, UPLOAD, run=str(run.run_id), metrics=metrics)
    assert data["uploadCustomMetrics"] == {
        "__typename": "UpsertResult",
        "new": 7,
        "updated": 0,
        "ignored": 0,
    }

    everything = {
        m["name"]: m
        for m in (await execute(runtime, QUERY, run=run.run_id, ds=run.dataset_id))["customMetrics"]
    }
    assert list(everything) == ["bbw", "cm", "pr", "tp"]
    bbw = everything["bbw"]
    assert (bbw["aggregation"], bbw["source"], bbw["count"]) == ("ARITHMETIC_MEAN", "RUN", 2)
    assert bbw["value"] == statistics.fmean([statistics.fmean([2.0, 4.0]), 9.0])
    assert bbw["byFeature"] == [
        {
            "featureName": "cat",
            "value": statistics.fmean([2.0, 9.0]),
            "count": 2,
            "bySubclass": [{"subclassName": "orange", "value": 9.0, "count": 1}],
        },
        {"featureName": "dog", "value": 4.0, "count": 1, "bySubclass": []},
    ]
    assert everything["tp"]["value"] == 7.0  # Labelbox's example: cat 3 + dog 4
    assert everything["cm"]["confusion"] == {
        "tp": 3,
        "fp": 1,
        "tn": 0,
        "fn": 2,
        "precision": 0.75,
        "recall": 0.6,
        "f1": 6 / 9,
    }
    assert everything["pr"]["value"] is None
    assert everything["pr"]["byConfidence"] == [
        {"confidence": 0.2, "value": 0.5},
        {"confidence": 0.8, "value": 0.25},
    ]

    filtered = await execute(
        runtime,
        QUERY,
        run=run.run_id,
        ds=run.dataset_id,
        filter={"referenceIds": ["a"]},
        names=["bbw", "cm"],
    )
    assert [
        (m["name"], m["value"], m["count"], m["confusion"]) for m in filtered["customMetrics"]
    ] == [
        ("bbw", 3.0, 1, None),
        ("cm", None, 0, None),
    ]
    async with transaction(runtime.sessions) as session:
        saved = Slice(dataset_id=run.dataset_id, name="bc", reference_ids=["b", "c"])
        session.add(saved)
        await session.flush()
        slice_id = str(saved.id)
    sliced = await execute(
        runtime, QUERY, run=run.run_id, ds=run.dataset_id, slice=slice_id, names=["tp"]
    )
    assert [(m["value"], m["count"]) for m in sliced["customMetrics"]] == [(4.0, 1)]


async def test_rejected_batch_lists_paths_and_unknown_run(runtime: Runtime) -> None:
    run = await make_run(runtime.sessions, ["a"])
    bad = [
        {"name": "g", "referenceId": "a", "value": -1.0, "aggregation": "GEOMETRIC_MEAN"},
        {"name": "g", "referenceId": "zzz", "value": 1.0, "aggregation": "GEOMETRIC_MEAN"},
    ]
    data = await execute(runtime, UPLOAD, run=str(run.run_id), metrics=bad)
    assert data["uploadCustomMetrics"]["__typename"] == "InvalidInputError"
    assert [i["path"] for i in data["uploadCustomMetrics"]["issues"]] == [
        "metrics[0].value",
        "metrics[1].referenceId",
    ]
    assert (await execute(runtime, QUERY, run=run.run_id, ds=run.dataset_id))["customMetrics"] == []
    missing = await execute(runtime, UPLOAD, run="424242", metrics=[])
    assert missing["uploadCustomMetrics"]["__typename"] == "NotFoundError"


async def test_unknown_slice_is_a_not_found_error(runtime: Runtime) -> None:
    run = await make_run(runtime.sessions, ["a"])
    result = await SCHEMA.execute(
        QUERY,
        variable_values={"run": run.run_id, "ds": run.dataset_id, "slice": "999"},
        context_value=Context.create(runtime),
    )
    assert result.errors is not None and result.errors[0].extensions == {"code": "NOT_FOUND"}


async def test_served_schema_wires_upload_and_model_run_field(runtime: Runtime) -> None:
    served = build_schema(runtime.settings)
    run = await make_run(runtime.sessions, ["a", "b"])
    upload = await served.execute(
        UPLOAD,
        variable_values={
            "run": str(run.run_id),
            "metrics": [
                {"name": "m", "referenceId": "a", "value": 1.0, "aggregation": "HARMONIC_MEAN"},
                {"name": "m", "referenceId": "b", "value": 3.0, "aggregation": "HARMONIC_MEAN"},
            ],
        },
        context_value=Context.create(runtime),
    )
    assert upload.errors is None and upload.data is not None
    assert upload.data["uploadCustomMetrics"]["new"] == 2
    result = await served.execute(
        'query($id: ID!) { modelRun(id: $id) { customMetrics(names: ["m"]) { name aggregation value count } } }',
        variable_values={"id": str(run.run_id)},
        context_value=Context.create(runtime),
    )
    assert result.errors is None and result.data is not None
    assert result.data["modelRun"]["customMetrics"] == [
        {
            "name": "m",
            "aggregation": "HARMONIC_MEAN",
            "value": statistics.harmonic_mean([1.0, 3.0]),
            "count": 2,
        }
    ]
