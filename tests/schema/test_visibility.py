"""A key limited to datasets, on both databases, straight on the schema: every way to reach
another dataset's things - by id, by name, through lists and nested fields, through the
loaders - answers as a missing id would; its own dataset answers in full."""

from __future__ import annotations

from typing import Any

import pytest

from sliceboard.principal import ANONYMOUS_ADMIN, Principal
from sliceboard.runtime import Runtime
from tests.support.graphql import Executor

MISSING = "987654321"


async def _world(admin: Executor) -> dict[str, dict[str, str]]:
    model = await admin.data(
        'mutation { createModel(input: {name: "m", referenceId: "m"}) { ... on Model { id } } }'
    )
    model_id = model["createModel"]["id"]
    ids: dict[str, dict[str, str]] = {}
    for name in ("alpha", "beta"):
        made = await admin.data(
            "mutation($n: String!) { createDataset(input: {name: $n}) { ... on Dataset { id } } }",
            {"n": name},
        )
        dataset = made["createDataset"]["id"]
        await admin.data(
            'mutation($d: ID!) { upsertItems(datasetId: $d, items: [{referenceId: "i1"}]) '
            '{ __typename } upsertAnnotations(datasetId: $d, annotations: [{referenceId: "i1", '
            'annotationId: "a1", label: "cat", box: {x: 0, y: 0, width: 2, height: 2}}]) '
            "{ __typename } }",
            {"d": dataset},
        )
        run = await admin.data(
            "mutation($m: ID!, $d: ID!, $n: String!) { createModelRun(input: {modelId: $m, "
            "datasetId: $d, name: $n}) { ... on ModelRun { id } } }",
            {"m": model_id, "d": dataset, "n": f"run-{name}"},
        )
        slice_ = await admin.data(
            'mutation($d: ID!) { createSlice(input: {datasetId: $d, name: "s", '
            'referenceIds: ["i1"]}) { ... on Slice { id } } }',
            {"d": dataset},
        )
        ids[name] = {
            "dataset": dataset,
            "run": run["createModelRun"]["id"],
            "slice": slice_["createSlice"]["id"],
        }
    return ids


READS = {
    "dataset by id": ("query($a: ID!) { dataset(id: $a) { id } }", "dataset"),
    "dataset by name": ('query { dataset(name: "NAME") { id } }', "name"),
    "run by id": ("query($a: ID!) { modelRun(id: $a) { id } }", "run"),
    "slice of another dataset in a run's metrics": (
        "query($b: ID!, $a: ID!) { modelRun(id: $b) { customMetrics(sliceId: $a) { name } } }",
        "slice",
    ),
}


@pytest.fixture
async def worlds(runtime: Runtime) -> tuple[dict[str, dict[str, str]], Executor, Executor]:
    admin = Executor(runtime)
    ids = await _world(admin)
    limited = Executor(
        runtime,
        Principal(
            key_id=7,
            name="beta-only",
            scope="admin",
            dataset_ids=frozenset({int(ids["beta"]["dataset"])}),
        ),
    )
    return ids, admin, limited


@pytest.mark.parametrize("case", sorted(READS))
async def test_another_datasets_things_answer_as_missing(
    worlds: tuple[dict[str, dict[str, str]], Executor, Executor], case: str
) -> None:
    ids, admin, limited = worlds
    query, entity = READS[case]

    def variables(value: str) -> dict[str, Any]:
        return {"a": value, "b": ids["beta"]["run"]}

    if entity == "name":
        seen = await limited.run(query.replace("NAME", "alpha"))
        missing = await admin.run(query.replace("NAME", "no-such-name"))
        assert seen == missing == ({"dataset": None}, [])
        return
    seen = await limited.run(query, variables(ids["alpha"][entity]))
    missing = await admin.run(query, variables(MISSING))
    assert _without(seen, ids["alpha"][entity]) == _without(missing, MISSING)
    if entity != "slice":  # (a slice of another dataset is missing for every key)
        # the thing itself is there for an unlimited key
        shown = await admin.run(query, variables(ids["alpha"][entity]))
        assert _without(shown, ids["alpha"][entity]) != _without(missing, MISSING)


def _without(answer: tuple[Any, list[dict[str, Any]]], value: str) -> str:
    return repr(answer).replace(f"'{value}'", "'<id>'")


async def test_lists_hold_only_the_keys_datasets(
    worlds: tuple[dict[str, dict[str, str]], Executor, Executor],
) -> None:
    _, admin, limited = worlds
    query = (
        "{ datasets { totalCount edges { node { name modelRuns { name } slices { name } } } } "
        'model(referenceId: "m") { runs { name dataset { name } } } }'
    )
    data = await limited.data(query)
    assert data["datasets"] == {
        "totalCount": 1,
        "edges": [
            {
                "node": {
                    "name": "beta",
                    "modelRuns": [{"name": "run-beta"}],
                    "slices": [{"name": "s"}],
                }
            }
        ],
    }
    assert data["model"] == {"runs": [{"name": "run-beta", "dataset": {"name": "beta"}}]}
    everything = await admin.data(query)
    assert everything["datasets"]["totalCount"] == 2
    assert [r["name"] for r in everything["model"]["runs"]] == ["run-alpha", "run-beta"]


async def test_writes_to_another_dataset_answer_not_found_and_change_nothing(
    worlds: tuple[dict[str, dict[str, str]], Executor, Executor],
) -> None:
    ids, admin, limited = worlds
    alpha = ids["alpha"]
    writes = [
        ("mutation($a: ID!) { deleteDataset(id: $a) { __typename } }", alpha["dataset"]),
        (
            'mutation($a: ID!) { upsertItems(datasetId: $a, items: [{referenceId: "i2"}]) '
            "{ __typename } }",
            alpha["dataset"],
        ),
        (
            "mutation($a: ID!) { upsertLabels(modelRunId: $a, all: true) { __typename } }",
            alpha["run"],
        ),
        (
            "mutation($a: ID!) { calculateEvaluationMetrics(modelRunId: $a) { __typename } }",
            alpha["run"],
        ),
        (
            'mutation($a: ID!) { createSlice(input: {datasetId: $a, name: "t", '
            'referenceIds: ["i1"]}) { __typename } }',
            alpha["dataset"],
        ),
    ]
    for query, target in writes:
        assert await limited.data(query, {"a": target}) == {
            next(iter(await admin.data(query, {"a": MISSING}))): {"__typename": "NotFoundError"}
        }, query
    after = await admin.data(
        "query($a: ID!, $r: ID!) { dataset(id: $a) { items { totalCount } slices { name } } "
        "modelRun(id: $r) { jobs { id } } }",
        {"a": alpha["dataset"], "r": alpha["run"]},
    )
    assert after == {
        "dataset": {"items": {"totalCount": 1}, "slices": [{"name": "s"}]},
        "modelRun": {"jobs": []},
    }
    # its own dataset it may change
    beta = await limited.data(
        'mutation($b: ID!) { upsertItems(datasetId: $b, items: [{referenceId: "i2"}]) '
        "{ ... on UpsertResult { new } } }",
        {"b": ids["beta"]["dataset"]},
    )
    assert beta == {"upsertItems": {"new": 1}}


async def test_auth_off_is_an_unlimited_admin(runtime: Runtime) -> None:
    executor = Executor(runtime, ANONYMOUS_ADMIN)
    assert await executor.data("{ viewer { name scope authenticated datasetIds keyId } }") == {
        "viewer": {
            "name": "anonymous",
            "scope": "ADMIN",
            "authenticated": False,
            "datasetIds": None,
            "keyId": None,
        }
    }
