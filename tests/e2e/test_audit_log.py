"""The audit log over HTTP against the real app, on both backends: one entry per mutation with
its key, field, dataset and outcome, also for mutations that rolled back; ``auditLog`` pages
newest first, filters, and is for admins. Keys are real (auth required): "owner" goes with every
request that names no other."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from sliceboard.config import Settings
from tests.support.principals import Keys, app_client, auth_required, gql

ENTRY = "id at keyId keyName operation datasetId outcome message"
LOG = f"""query($first: Int, $after: String, $d: ID, $k: ID, $op: String) {{
  auditLog(first: $first, after: $after, datasetId: $d, keyId: $k, operation: $op) {{
    totalCount pageInfo {{ hasNextPage endCursor }} edges {{ node {{ {ENTRY} }} }} }} }}"""
CREATE_DATASET = """mutation($n: String!) { createDataset(input: {name: $n}) {
  __typename ... on Dataset { id } } }"""
UPSERT_ITEMS = """mutation($d: ID!, $items: [ItemInput!]!) { upsertItems(datasetId: $d, items: $items) {
  __typename } }"""
DELETE = "mutation($id: ID!) { deleteDataset(id: $id) { __typename } }"


async def _log(
    client: httpx.AsyncClient, headers: dict[str, str] | None = None, **variables: Any
) -> dict[str, Any]:
    body = await gql(client, LOG, variables, headers)
    assert "errors" not in body, body
    log: dict[str, Any] = body["data"]["auditLog"]
    return log


def _nodes(log: dict[str, Any]) -> list[dict[str, Any]]:
    return [edge["node"] for edge in log["edges"]]


async def _mutate(
    client: httpx.AsyncClient, query: str, headers: dict[str, str] | None = None, **variables: Any
) -> dict[str, Any]:
    body = await gql(client, query, variables, headers)
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return next(iter(data.values()))  # type: ignore[no-any-return]


async def _keyed(database_url: str) -> tuple[Keys, dict[str, str], dict[str, str]]:
    keys = Keys(database_url)
    return keys, await keys.header("owner", "admin"), await keys.header("ci", "admin")


def _settings(database_url: str) -> Settings:
    return auth_required(Settings(database_url=database_url, run_jobs=False))


async def test_each_mutation_leaves_one_entry_with_its_outcome(database_url: str) -> None:
    started = datetime.now(UTC)
    keys, owner, CI = await _keyed(database_url)
    async with app_client(_settings(database_url), owner) as client:
        created = await _mutate(client, CREATE_DATASET, n="cars")
        dataset = created["id"]
        # the same name again, by a key: refused, rolled back, and still logged
        taken = await _mutate(client, CREATE_DATASET, CI, n="cars")
        assert taken["__typename"] == "ConflictError"
        bad_rows = [{"referenceId": "a", "width": -1}]
        refused = await _mutate(client, UPSERT_ITEMS, CI, d=dataset, items=bad_rows)
        assert refused["__typename"] == "InvalidInputError"
        good_rows = [{"referenceId": "a", "width": 4, "height": 3}]
        stored = await _mutate(client, UPSERT_ITEMS, CI, d=dataset, items=good_rows)
        assert stored["__typename"] == "UpsertResult"
        assert (await _mutate(client, DELETE, id="99"))["__typename"] == "NotFoundError"
        assert (await _mutate(client, DELETE, CI, id=dataset))["__typename"] == "Deleted"

        log = await _log(client, first=10)
    assert log["totalCount"] == 6  # one entry per mutation, none twice
    newest_first = _nodes(log)
    assert [
        (e["operation"], e["outcome"], e["datasetId"], e["keyId"], e["keyName"])
        for e in newest_first
    ] == [
        ("deleteDataset", "OK", dataset, keys.id("ci"), "ci"),
        ("deleteDataset", "NOT_FOUND", "99", keys.id("owner"), "owner"),
        ("upsertItems", "OK", dataset, keys.id("ci"), "ci"),
        ("upsertItems", "INVALID_INPUT", dataset, keys.id("ci"), "ci"),
        ("createDataset", "CONFLICT", dataset, keys.id("ci"), "ci"),
        ("createDataset", "OK", dataset, keys.id("owner"), "owner"),
    ]
    assert [int(e["id"]) for e in newest_first] == sorted(
        (int(e["id"]) for e in newest_first), reverse=True
    )
    assert newest_first[0]["message"] is None
    assert "cars" in newest_first[4]["message"]  # the conflict's own message
    assert "width" in newest_first[3]["message"]
    for entry in newest_first:
        at = datetime.fromisoformat(entry["at"])
        assert started - timedelta(seconds=1) <= at <= datetime.now(UTC)


async def test_a_rolled_back_mutation_wrote_nothing_but_its_entry(database_url: str) -> None:
    async with app_client(Settings(database_url=database_url, run_jobs=False)) as client:
        dataset = (await _mutate(client, CREATE_DATASET, n="d"))["id"]
        rows = [{"referenceId": "ok"}, {"referenceId": "bad", "height": -2}]
        assert (await _mutate(client, UPSERT_ITEMS, d=dataset, items=rows))[
            "__typename"
        ] == "InvalidInputError"
        count = await gql(
            client, "query($d: ID!) { dataset(id: $d) { items { totalCount } } }", {"d": dataset}
        )
        assert count["data"]["dataset"]["items"]["totalCount"] == 0
        log = await _log(client, op="upsertItems")
        assert [e["outcome"] for e in _nodes(log)] == ["INVALID_INPUT"]


async def test_pages_and_filters(database_url: str) -> None:
    keys, owner, CI = await _keyed(database_url)
    async with app_client(_settings(database_url), owner) as client:
        ids = [(await _mutate(client, CREATE_DATASET, n=f"d{i}"))["id"] for i in range(5)]
        await _mutate(client, DELETE, CI, id=ids[1])
        seen: list[str] = []
        after = None
        while True:
            page = await _log(client, first=2, after=after)
            seen += [e["datasetId"] for e in _nodes(page)]
            assert len(_nodes(page)) <= 2
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        assert seen == [ids[1], ids[4], ids[3], ids[2], ids[1], ids[0]]
        by_dataset = await _log(client, d=ids[1])
        assert [e["operation"] for e in _nodes(by_dataset)] == ["deleteDataset", "createDataset"]
        assert by_dataset["totalCount"] == 2
        by_key = await _log(client, k=keys.id("ci"))
        assert [e["operation"] for e in _nodes(by_key)] == ["deleteDataset"]
        by_operation = await _log(client, op="createDataset")
        assert by_operation["totalCount"] == 5
        assert (await _log(client, d="not-an-id"))["totalCount"] == 0


async def test_the_dataset_of_a_run_is_found(database_url: str) -> None:
    async with app_client(Settings(database_url=database_url, run_jobs=False)) as client:
        dataset = (await _mutate(client, CREATE_DATASET, n="d"))["id"]
        model = await _mutate(
            client,
            'mutation { createModel(input: {name: "m", referenceId: "m"}) { ... on Model { id } } }',
        )
        run = await _mutate(
            client,
            "mutation($m: ID!, $d: ID!) { createModelRun(input: {modelId: $m, datasetId: $d, "
            'name: "r"}) { ... on ModelRun { id } } }',
            m=model["id"],
            d=dataset,
        )
        queued = await _mutate(
            client,
            "mutation($r: ID!) { calculateEvaluationMetrics(modelRunId: $r) { __typename } }",
            r=run["id"],
        )
        assert queued["__typename"] == "Job"
        entries = _nodes(await _log(client))
    assert [(e["operation"], e["datasetId"]) for e in entries] == [
        ("calculateEvaluationMetrics", dataset),
        ("createModelRun", dataset),
        ("createModel", None),  # a model belongs to no dataset
        ("createDataset", dataset),
    ]


async def test_audit_log_is_for_admins(sqlite_url: str) -> None:
    keys = Keys(sqlite_url)
    admin = await keys.header("admin", "admin")
    async with app_client(_settings(sqlite_url)) as client:
        await _mutate(client, CREATE_DATASET, admin, n="d")
        for role in ("read", "write"):
            body = await gql(client, LOG, {}, await keys.header(role, role))
            assert body["data"] is None
            assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
            assert "admin" in body["errors"][0]["message"]
        log = await _log(client, admin)
        assert [(e["keyId"], e["keyName"]) for e in _nodes(log)] == [(keys.id("admin"), "admin")]
