"""Rate limits per key over HTTP against the real app, on both backends: requests past the
bucket get 429 with Retry-After; evaluations past the per-run limit get a RateLimitedError
payload and queue nothing."""

from __future__ import annotations

import json
import os
import signal
from typing import Any

import httpx
import pytest
import websockets
import websockets.sync.client
from prometheus_client.parser import text_string_to_metric_families

from sliceboard.config import Settings
from tests.support.principals import Keys, app_client, auth_required, gql
from tests.support.serving import start_server

QUERY = "query Probe { datasets(first: 1) { edges { cursor } } }"


async def _post(client: httpx.AsyncClient, headers: dict[str, str] | None = None) -> httpx.Response:
    return await client.post("/graphql", json={"query": QUERY}, headers=headers)


def _sample(text: str, name: str, labels: dict[str, str]) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    raise AssertionError(f"{name}{labels} not in /metrics")


async def test_requests_past_the_burst_get_429_with_retry_after(database_url: str) -> None:
    # one token per 100 s: nothing refills while the test runs, however slow the machine
    settings = Settings(
        database_url=database_url, run_jobs=False, rate_limit_per_second=0.01, rate_limit_burst=3
    )
    keys = Keys(database_url)
    ops, ci = await keys.header("ops", "admin"), await keys.header("ci", "write")
    async with app_client(auth_required(settings)) as client:
        assert [(await _post(client, ops)).status_code for _ in range(3)] == [200, 200, 200]
        refused = await _post(client, ops)
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "100"
        error = refused.json()["errors"][0]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        assert 99 < error["extensions"]["retryAfterSeconds"] <= 100
        assert (await client.get("/healthz")).status_code == 200  # probes are never limited
        # Another key has its own bucket; the first key's stays empty.
        assert [(await _post(client, ci)).status_code for _ in range(3)] == [200, 200, 200]
        assert (await _post(client, ci)).status_code == 429
        assert (await _post(client, ops)).status_code == 429
        scraper = await keys.header("scraper", "admin")
        scraped = (await client.get("/metrics", headers=scraper)).text
        assert _sample(scraped, "sliceboard_rate_limited_total", {"limit": "requests"}) == 3


async def test_without_keys_each_client_address_has_a_bucket(database_url: str) -> None:
    settings = Settings(
        database_url=database_url, run_jobs=False, rate_limit_per_second=0.01, rate_limit_burst=2
    )
    async with app_client(settings) as client:
        assert [(await _post(client)).status_code for _ in range(3)] == [200, 200, 429]


async def test_no_limit_by_default(database_url: str) -> None:
    async with app_client(Settings(database_url=database_url, run_jobs=False)) as client:
        assert {(await _post(client)).status_code for _ in range(30)} == {200}


CREATE = """mutation($d: String!) {
  createDataset(input: {name: $d}) { ... on Dataset { id } }
  createModel(input: {name: $d, referenceId: $d}) { ... on Model { id } } }"""
RUN = """mutation($m: ID!, $d: ID!, $n: String!) {
  createModelRun(input: {modelId: $m, datasetId: $d, name: $n}) { ... on ModelRun { id } } }"""
EVALUATE = """mutation($r: ID!, $o: EvaluationOptions) {
  calculateEvaluationMetrics(modelRunId: $r, options: $o) {
    __typename
    ... on Job { id }
    ... on RateLimitedError { message retryAfterSeconds }
    ... on InvalidInputError { message } } }"""


async def _runs(client: httpx.AsyncClient) -> tuple[str, str]:
    made = (await gql(client, CREATE, {"d": "d"}))["data"]
    ids = {"m": made["createModel"]["id"], "d": made["createDataset"]["id"]}
    first = (await gql(client, RUN, {**ids, "n": "a"}))["data"]["createModelRun"]["id"]
    second = (await gql(client, RUN, {**ids, "n": "b"}))["data"]["createModelRun"]["id"]
    return first, second


async def _evaluate(
    client: httpx.AsyncClient, run: str, headers: dict[str, str] | None = None, **options: Any
) -> dict[str, Any]:
    body = await gql(client, EVALUATE, {"r": run, "o": options or None}, headers)
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["calculateEvaluationMetrics"]
    return payload


async def test_evaluations_per_run_per_hour(database_url: str) -> None:
    settings = Settings(database_url=database_url, run_jobs=False, evaluations_per_run_per_hour=2)
    keys = Keys(database_url)
    ops, other = await keys.header("ops", "admin"), await keys.header("other", "write")
    async with app_client(auth_required(settings), ops) as client:
        run, other_run = await _runs(client)
        # refused input queues nothing, so it does not count
        bad = await _evaluate(client, run, iouThresholds=[0.5] * 50)
        assert bad["__typename"] == "InvalidInputError"
        first = await _evaluate(client, run, maxDetections=10)
        second = await _evaluate(client, run, maxDetections=20)
        assert first["__typename"] == second["__typename"] == "Job"
        limited = await _evaluate(client, run, maxDetections=30)
        assert limited["__typename"] == "RateLimitedError"
        # two per hour: the next token in half an hour
        assert 1790 < limited["retryAfterSeconds"] <= 1800
        assert "per hour" in limited["message"]
        assert (await _evaluate(client, other_run))["__typename"] == "Job"  # per run
        assert (await _evaluate(client, run, other))["__typename"] == "Job"  # per key
        jobs = await gql(client, "query($r: ID!) { modelRun(id: $r) { jobs { id } } }", {"r": run})
        assert len(jobs["data"]["modelRun"]["jobs"]) == 3  # the limited request queued nothing
        scraped = (await client.get("/metrics")).text
        assert _sample(scraped, "sliceboard_rate_limited_total", {"limit": "evaluations"}) == 1
        assert _sample(scraped, "sliceboard_graphql_errors_total", {"code": "RATE_LIMITED"}) == 1


@pytest.mark.slow
def test_websocket_handshakes_count_too(sqlite_url: str) -> None:
    """Through a real server: a handshake past the bucket is refused before it is accepted."""
    env = {
        **os.environ,
        "SLICEBOARD_RATE_LIMIT_PER_SECOND": "0.01",
        "SLICEBOARD_RATE_LIMIT_BURST": "1",
    }
    process, base = start_server("--database-url", sqlite_url, env=env)
    url = base.replace("http", "ws") + "/graphql"
    protocol = [websockets.Subprotocol("graphql-transport-ws")]
    try:
        with websockets.sync.client.connect(url, subprotocols=protocol) as ws:
            ws.send(json.dumps({"type": "connection_init"}))
            assert json.loads(ws.recv(timeout=10))["type"] == "connection_ack"
        with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
            websockets.sync.client.connect(url, subprotocols=protocol)
        assert refused.value.response.status_code == 403
        limited = httpx.post(f"{base}/graphql", json={"query": QUERY}, timeout=10)
        assert limited.status_code == 429  # the same caller's bucket
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
