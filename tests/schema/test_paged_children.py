"""Unpaged lists that grow with the data are cut at ``max_list_items``; their paged twins
reach every row (issue 11 §1)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from sliceboard.config import Settings
from sliceboard.runtime import Runtime
from sliceboard.schema.context import Context
from sliceboard.schema.schema import build_schema

CAP = 2


@pytest.fixture
async def run(database_url: str) -> AsyncIterator[Any]:
    runtime = Runtime.create(
        Settings(database_url=database_url, run_jobs=False, max_list_items=CAP, max_page_size=CAP)
    )
    schema = build_schema(runtime.settings)

    async def execute(query: str, variables: dict[str, Any] | None = None) -> Any:
        result = await schema.execute(
            query, variable_values=variables, context_value=Context.create(runtime)
        )
        assert result.errors is None, result.errors
        return result.data

    yield execute
    await runtime.close()


async def _seed(run: Any) -> dict[str, str]:
    dataset = (
        await run('mutation { createDataset(input: {name: "d"}) { ... on Dataset { id } } }')
    )["createDataset"]["id"]
    await run(
        'mutation($d: ID!) { upsertItems(datasetId: $d, items: [{referenceId: "r0"}]) { __typename } }',
        {"d": dataset},
    )
    boxes = [
        {
            "referenceId": "r0",
            "annotationId": f"a{i}",
            "label": "car",
            "box": {"x": i, "y": 0, "width": 2, "height": 2},
        }
        for i in range(5)
    ]
    await run(
        "mutation($d: ID!, $a: [AnnotationInput!]!) { upsertAnnotations(datasetId: $d, annotations: $a) { __typename } }",
        {"d": dataset, "a": boxes},
    )
    model = (
        await run(
            'mutation { createModel(input: {name: "m", referenceId: "m"}) { ... on Model { id } } }'
        )
    )["createModel"]["id"]
    runs = []
    for name in ("r1", "r2", "r3"):
        created = await run(
            "mutation($m: ID!, $d: ID!, $n: String!) { createModelRun(input: {modelId: $m, datasetId: $d, name: $n}) { ... on ModelRun { id } } }",
            {"m": model, "d": dataset, "n": name},
        )
        runs.append(created["createModelRun"]["id"])
    await run(
        "mutation($r: ID!, $p: [PredictionInput!]!) { upsertPredictions(modelRunId: $r, predictions: $p) { __typename } }",
        {"r": runs[0], "p": [{**box, "confidence": 0.5} for box in boxes]},
    )
    for name in ("s1", "s2", "s3"):
        await run(
            'mutation($d: ID!, $n: String!) { createSlice(input: {datasetId: $d, name: $n, referenceIds: ["r0"]}) { __typename } }',
            {"d": dataset, "n": name},
        )
    return {"dataset": dataset, "model": model, "run": runs[0]}


async def test_unpaged_lists_are_cut_and_their_pages_reach_every_row(run: Any) -> None:
    ids = await _seed(run)
    item = """query($d: ID!, $r: ID!) { dataset(id: $d) { items { edges { node {
        annotations { annotationId } predictions(modelRunId: $r) { annotationId }
        a: annotationsConnection(first: 2) { totalCount edges { node { annotationId } } }
        p: predictionsConnection(modelRunId: $r, first: 2) { totalCount edges { node { annotationId } } }
      } } }
      slices { name } modelRuns { name }
      sc: slicesConnection(first: 2) { totalCount edges { node { name } } }
      rc: modelRunsConnection(first: 2) { totalCount edges { node { name } } } } }"""
    data = (await run(item, {"d": ids["dataset"], "r": ids["run"]}))["dataset"]
    node = data["items"]["edges"][0]["node"]
    assert node["annotations"] == [{"annotationId": "a0"}, {"annotationId": "a1"}]
    assert node["predictions"] == [{"annotationId": "a0"}, {"annotationId": "a1"}]
    assert node["a"]["totalCount"] == 5
    assert [e["node"]["annotationId"] for e in node["a"]["edges"]] == ["a0", "a1"]
    assert [e["node"]["annotationId"] for e in node["p"]["edges"]] == ["a0", "a1"]
    assert node["p"]["totalCount"] == 5
    assert data["slices"] == [{"name": "s1"}, {"name": "s2"}]
    assert data["modelRuns"] == [{"name": "r1"}, {"name": "r2"}]
    assert [e["node"]["name"] for e in data["sc"]["edges"]] == ["s1", "s2"]
    assert [e["node"]["name"] for e in data["rc"]["edges"]] == ["r1", "r2"]
    assert (data["sc"]["totalCount"], data["rc"]["totalCount"]) == (3, 3)


async def test_an_items_annotations_page_through_with_cursors(run: Any) -> None:
    ids = await _seed(run)
    query = """query($d: ID!, $after: String) { dataset(id: $d) { items { edges { node {
        annotationsConnection(first: 2, after: $after) { pageInfo { hasNextPage endCursor }
          edges { node { annotationId } } } } } } } }"""
    seen: list[str] = []
    after = None
    for _ in range(5):
        data = await run(query, {"d": ids["dataset"], "after": after})
        page = data["dataset"]["items"]["edges"][0]["node"]["annotationsConnection"]
        seen += [edge["node"]["annotationId"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [f"a{i}" for i in range(5)]


async def test_a_models_runs_are_cut_and_paged(run: Any) -> None:
    ids = await _seed(run)
    data = await run(
        """query($m: ID!) { model(id: $m) { runs { name }
           runsConnection(first: 2) { totalCount edges { node { name } } } } }""",
        {"m": ids["model"]},
    )
    assert data["model"]["runs"] == [{"name": "r1"}, {"name": "r2"}]
    connection = data["model"]["runsConnection"]
    assert [e["node"]["name"] for e in connection["edges"]] == ["r1", "r2"]
    assert connection["totalCount"] == 3
