"""A long request against a real ``sliceboard serve``: its time budget cancels it, and SIGTERM
one second into it ends the server within the graceful timeout (issue 11 §1, §2)."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.serving import start_server

pytestmark = pytest.mark.slow

GRACE = 2
ITEMS, PER_ITEM = 100, 50
# Allowed only because the node limit is raised: 10 x 100 x 50 x 50 annotations.
LONG = (
    '{ dataset(name: "long") { items(first: 100) { edges { node { '
    + " ".join(
        f"a{i}: annotations {{ item {{ annotations {{ label geometry {{ ... on Box {{ x y }} }} }} }} }}"
        for i in range(10)
    )
    + " } } } } }"
)


@contextmanager
def server(database: Path, **env: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    process, base = start_server(
        "--database-url",
        f"sqlite+aiosqlite:///{database}",
        env={
            **os.environ,
            "SLICEBOARD_MAX_QUERY_NODES": str(10**12),
            "SLICEBOARD_SHUTDOWN_TIMEOUT_SECONDS": str(GRACE),
            **env,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        yield process, base
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _data(base: str, query: str, variables: dict[str, Any] | None = None) -> Any:
    body = httpx.post(
        f"{base}/graphql", json={"query": query, "variables": variables or {}}, timeout=60
    ).json()
    assert "errors" not in body, body
    return body["data"]


def _seed(base: str) -> None:
    dataset = _data(
        base, 'mutation { createDataset(input: {name: "long"}) { ... on Dataset { id } } }'
    )
    dataset_id = dataset["createDataset"]["id"]
    _data(
        base,
        "mutation($d: ID!, $i: [ItemInput!]!) { upsertItems(datasetId: $d, items: $i) { __typename } }",
        {"d": dataset_id, "i": [{"referenceId": f"r{i}"} for i in range(ITEMS)]},
    )
    boxes = [
        {
            "referenceId": f"r{i}",
            "annotationId": f"a{j}",
            "label": "car",
            "box": {"x": j, "y": 0, "width": 2, "height": 2},
        }
        for i in range(ITEMS)
        for j in range(PER_ITEM)
    ]
    _data(
        base,
        "mutation($d: ID!, $a: [AnnotationInput!]!) { upsertAnnotations(datasetId: $d, annotations: $a) { __typename } }",
        {"d": dataset_id, "a": boxes},
    )


def _in_background(base: str) -> tuple[threading.Thread, dict[str, Any]]:
    outcome: dict[str, Any] = {}

    def send() -> None:
        try:
            outcome["response"] = httpx.post(f"{base}/graphql", json={"query": LONG}, timeout=120)
        except httpx.TransportError as error:
            outcome["error"] = error

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread, outcome


def test_sigterm_during_a_long_query_ends_the_server_within_its_grace(tmp_path: Path) -> None:
    with server(tmp_path / "s.db") as (process, base):
        _seed(base)
        thread, outcome = _in_background(base)
        time.sleep(1)  # the scenario: SIGTERM one second into the query
        assert thread.is_alive(), "the query should still be running"
        sent = time.monotonic()
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=GRACE + 5)
        except subprocess.TimeoutExpired:
            pytest.fail("server ignored SIGTERM past its graceful timeout")
        assert time.monotonic() - sent < GRACE + 5
        output = process.stdout.read().decode() if process.stdout else ""
        assert "Application shutdown complete" in output, output
        thread.join(timeout=10)
        assert "response" not in outcome or outcome["response"].status_code != 200


def test_a_request_past_its_budget_is_cancelled_while_the_server_stays_responsive(
    tmp_path: Path,
) -> None:
    with server(tmp_path / "t.db", SLICEBOARD_REQUEST_TIMEOUT_SECONDS="1.5") as (_, base):
        _seed(base)
        started = time.monotonic()
        thread, outcome = _in_background(base)
        health = []
        while thread.is_alive() and time.monotonic() - started < 30:
            probe = time.monotonic()
            assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
            health.append(time.monotonic() - probe)
            time.sleep(0.05)
        thread.join(timeout=30)
        elapsed = time.monotonic() - started
        response = outcome["response"]
        assert response.status_code == 503, response.text
        assert response.json()["errors"][0]["extensions"]["code"] == "LIMIT_EXCEEDED"
        assert elapsed < 1.5 + 5
        # The loop still answers while the request runs (measured 0.15-1.4 s on a loaded
        # 2-core host; before the loop yield it did not answer within 5 s).
        assert health and max(health) < 2.5
        # The server carries on: the next request is answered.
        assert _data(base, '{ dataset(name: "long") { name } }') == {"dataset": {"name": "long"}}
