"""Nested reads are batched per request: the statement count does not grow with the page."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from tests.support.graphql import Executor

NESTED = """query($d: ID!, $r: ID!, $n: Int) { dataset(id: $d) { labels modelRuns { name }
  items(first: $n) { edges { node { referenceId
    annotations { label item { referenceId } }
    predictions(modelRunId: $r) { label confidence item { id } }
  } } } } }"""


@contextmanager
def counted(execute: Executor) -> Iterator[list[str]]:
    statements: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engine = execute.runtime.database.sync_engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)


async def _seed(execute: Executor, items: int) -> dict[str, str]:
    dataset = await execute.data(
        'mutation { createDataset(input: {name: "d"}) { ... on Dataset { id } } }'
    )
    dataset_id = dataset["createDataset"]["id"]
    refs = [f"r{i}" for i in range(items)]
    await execute.data(
        "mutation($d: ID!, $i: [ItemInput!]!) { upsertItems(datasetId: $d, items: $i) { __typename } }",
        {"d": dataset_id, "i": [{"referenceId": ref} for ref in refs]},
    )
    annotations = [
        {
            "referenceId": ref,
            "annotationId": f"a{k}",
            "label": label,
            "box": {"x": k, "y": 0, "width": 2, "height": 2},
        }
        for ref in refs
        for k, label in enumerate(("car", "person"))
    ]
    await execute.data(
        "mutation($d: ID!, $a: [AnnotationInput!]!) { upsertAnnotations(datasetId: $d, annotations: $a) { __typename } }",
        {"d": dataset_id, "a": annotations},
    )
    model = await execute.data(
        'mutation { createModel(input: {name: "m", referenceId: "m"}) { ... on Model { id } } }'
    )
    run = await execute.data(
        'mutation($m: ID!, $d: ID!) { createModelRun(input: {modelId: $m, datasetId: $d, name: "r"}) { ... on ModelRun { id } } }',
        {"m": model["createModel"]["id"], "d": dataset_id},
    )
    run_id = run["createModelRun"]["id"]
    predictions = [
        {
            "referenceId": ref,
            "annotationId": "p",
            "label": "car",
            "confidence": 0.5,
            "box": {"x": 0, "y": 0, "width": 2, "height": 2},
        }
        for ref in refs
    ]
    await execute.data(
        "mutation($r: ID!, $p: [PredictionInput!]!) { upsertPredictions(modelRunId: $r, predictions: $p) { __typename } }",
        {"r": run_id, "p": predictions},
    )
    return {"d": dataset_id, "r": run_id}


async def test_fifty_items_cost_a_bounded_number_of_statements(execute: Executor) -> None:
    ids = await _seed(execute, 50)
    with counted(execute) as small:
        few = await execute.data(NESTED, {**ids, "n": 5})
    with counted(execute) as large:
        many = await execute.data(NESTED, {**ids, "n": 50})
    edges = many["dataset"]["items"]["edges"]
    assert len(few["dataset"]["items"]["edges"]) == 5 and len(edges) == 50
    assert all(
        len(e["node"]["annotations"]) == 2 and len(e["node"]["predictions"]) == 1 for e in edges
    )
    assert edges[7]["node"]["annotations"][0]["item"] == {"referenceId": "r7"}
    selects = [s for s in large if s.lstrip().upper().startswith("SELECT")]
    # dataset, labels, runs, items page, annotations, predictions, items by id (for `item`);
    # a long operation yields to the event loop (schema/loop_yield.py), and a load whose keys
    # arrive on both sides of a yield is dispatched in two parts: here predictions and items.
    assert len(selects) <= 9, selects
    # 45 more items must not mean 45 more statements. Not exactly equal: a long operation
    # yields to the event loop (schema/loop_yield.py), which can dispatch a batch in two parts.
    assert len(large) < len(small) + 10, "the statement count must not grow with the page size"
