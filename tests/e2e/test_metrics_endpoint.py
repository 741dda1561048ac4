"""``/metrics`` over HTTP against the real app, on both backends: it parses with
prometheus-client's own parser, its counters move with requests, and its access setting holds."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from sliceboard.config import Settings
from tests.support.principals import Keys, app_client, auth_required, gql


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of the exposition, by (name, labels): parsed by prometheus-client."""
    return {
        (sample.name, frozenset(sample.labels.items())): float(sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(
    scraped: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return scraped.get((name, frozenset(labels.items())), 0.0)


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = await client.get("/metrics")  # auth off: every caller is the anonymous admin
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


async def test_counters_move_with_requests(database_url: str) -> None:
    async with app_client(Settings(database_url=database_url, run_jobs=False)) as client:
        before = await scrape(client)
        for _ in range(3):
            body = await gql(client, "query Probe { datasets { totalCount } }")
            assert body["data"] == {"datasets": {"totalCount": 0}}
        await gql(client, "query Broken { datasets { nope } }")  # fails validation
        missing = await gql(client, 'mutation Drop { deleteDataset(id: "99") { __typename } }')
        assert missing["data"]["deleteDataset"]["__typename"] == "NotFoundError"
        await gql(client, "{ datasets { totalCount } }")
        after = await scrape(client)

        def moved(name: str, **labels: str) -> float:
            return value(after, name, **labels) - value(before, name, **labels)

        requests = "sliceboard_graphql_requests_total"
        assert moved(requests, operation="Probe", type="query") == 3
        assert moved(requests, operation="Broken", type="query") == 1
        assert moved(requests, operation="Drop", type="mutation") == 1
        assert moved(requests, operation="anonymous", type="query") == 1
        latency = "sliceboard_graphql_request_duration_seconds"
        assert moved(f"{latency}_count", operation="Probe") == 3
        assert moved(f"{latency}_sum", operation="Probe") > 0
        assert moved(f"{latency}_bucket", operation="Probe", le="+Inf") == 3
        errors = "sliceboard_graphql_errors_total"
        assert moved(errors, code="GRAPHQL_VALIDATION_FAILED") == 1
        assert moved(errors, code="NOT_FOUND") == 1
        # the machinery, sampled at scrape time
        assert value(after, "sliceboard_jobs", status="QUEUED") == 0
        assert value(after, "sliceboard_db_pool_size") > 0
        assert ("sliceboard_db_pool_connections", frozenset({("state", "in_use")})) in after
        assert value(after, "sliceboard_workers_alive", role="jobs") == 0  # run_jobs=False
        assert ("sliceboard_snapshot_cache_lookups_total", frozenset({("result", "hit")})) in after


async def test_queue_depth_counts_queued_jobs(database_url: str) -> None:
    async with app_client(Settings(database_url=database_url, run_jobs=False)) as client:
        made = await gql(
            client,
            """mutation { createDataset(input: {name: "d"}) { ... on Dataset { id } }
               createModel(input: {name: "m", referenceId: "m"}) { ... on Model { id } } }""",
        )
        ids = {k: v["id"] for k, v in made["data"].items()}
        for name in ("a", "b"):
            run = await gql(
                client,
                "mutation($m: ID!, $d: ID!, $n: String!) { createModelRun(input: "
                "{modelId: $m, datasetId: $d, name: $n}) { ... on ModelRun { id } } }",
                {"m": ids["createModel"], "d": ids["createDataset"], "n": name},
            )
            queued = await gql(
                client,
                "mutation($r: ID!) { calculateEvaluationMetrics(modelRunId: $r) { __typename } }",
                {"r": run["data"]["createModelRun"]["id"]},
            )
            assert queued["data"]["calculateEvaluationMetrics"]["__typename"] == "Job"
        scraped = await scrape(client)
        assert value(scraped, "sliceboard_jobs", status="QUEUED") == 2
        assert value(scraped, "sliceboard_jobs", status="RUNNING") == 0


async def test_operation_names_are_bounded(database_url: str) -> None:
    settings = Settings(database_url=database_url, run_jobs=False, metrics_max_operations=2)
    async with app_client(settings) as client:
        for name in ("A", "B", "C", "D", "A"):
            await gql(client, f"query {name} {{ datasets {{ totalCount }} }}")
        scraped = await scrape(client)
        requests = "sliceboard_graphql_requests_total"
        assert value(scraped, requests, operation="A", type="query") == 2
        assert value(scraped, requests, operation="B", type="query") == 1
        assert value(scraped, requests, operation="other", type="query") == 2
        assert value(scraped, requests, operation="C", type="query") == 0


@pytest.mark.parametrize(
    ("access", "scope", "status"),
    [
        ("admin", None, 401),
        ("admin", "read", 403),
        ("admin", "admin", 200),
        ("open", None, 200),
        ("off", "admin", 404),
    ],
)
async def test_access_with_auth_required(
    sqlite_url: str, access: str, scope: str | None, status: int
) -> None:
    settings = Settings(database_url=sqlite_url, run_jobs=False, metrics_access=access)
    key = await Keys(sqlite_url).header(scope, scope) if scope else None
    async with app_client(auth_required(settings)) as client:
        response = await client.get("/metrics", headers=key)
        assert response.status_code == status, response.text
        if status == 401:
            assert response.headers["www-authenticate"].startswith("Bearer")
        if status == 200:
            assert "sliceboard_graphql_requests" in response.text


@pytest.mark.parametrize(("access", "status"), [("admin", 200), ("open", 200), ("off", 404)])
async def test_access_with_auth_off(sqlite_url: str, access: str, status: int) -> None:
    settings = Settings(database_url=sqlite_url, run_jobs=False, metrics_access=access)
    async with app_client(settings) as client:
        assert (await client.get("/metrics")).status_code == status
