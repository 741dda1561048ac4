"""``sliceboard serve`` as a real process: upload, stop with SIGTERM, start again, read back."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets.sync.client

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(database: Path) -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sliceboard.cli",
            "serve",
            "--port",
            str(port),
            "--database-url",
            f"sqlite+aiosqlite:///{database}",
        ],
        cwd=ROOT,
        env={**os.environ, "SLICEBOARD_JOB_POLL_SECONDS": "0.1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stdout.read().decode() if process.stdout else ""
                pytest.fail(f"server did not start:\n{output}")
            time.sleep(0.1)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            pytest.fail("server ignored SIGTERM")
        output = process.stdout.read().decode() if process.stdout else ""
        # uvicorn re-raises SIGTERM after its graceful shutdown.
        assert code in (0, -signal.SIGTERM), output
        assert "Application shutdown complete" in output, output
        assert "Traceback" not in output, output


def _post(base: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    response = httpx.post(
        f"{base}/graphql", json={"query": query, "variables": variables or {}}, timeout=30
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def test_data_survives_a_restart(tmp_path: Path) -> None:
    database = tmp_path / "sliceboard.db"
    with serving(database) as base:
        dataset = _post(
            base, 'mutation { createDataset(input: {name: "kept"}) { ... on Dataset { id } } }'
        )
        dataset_id = dataset["createDataset"]["id"]
        items = [{"referenceId": f"r{i}", "metadata": {"i": i}} for i in range(30)]
        _post(
            base,
            "mutation($d: ID!, $i: [ItemInput!]!) { upsertItems(datasetId: $d, items: $i) { __typename } }",
            {"d": dataset_id, "i": items},
        )
        annotations = [
            {
                "referenceId": f"r{i}",
                "annotationId": "a",
                "label": "car",
                "box": {"x": i, "y": 0, "width": 2, "height": 3},
            }
            for i in range(30)
        ]
        _post(
            base,
            "mutation($d: ID!, $a: [AnnotationInput!]!) { upsertAnnotations(datasetId: $d, annotations: $a) { __typename } }",
            {"d": dataset_id, "a": annotations},
        )
        # The websocket endpoint speaks graphql-transport-ws; an unknown job is a coded error.
        with websockets.sync.client.connect(
            base.replace("http", "ws") + "/graphql",
            subprotocols=[websockets.Subprotocol("graphql-transport-ws")],
        ) as ws:
            ws.send(json.dumps({"type": "connection_init"}))
            assert json.loads(ws.recv(timeout=10))["type"] == "connection_ack"
            ws.send(
                json.dumps(
                    {
                        "id": "1",
                        "type": "subscribe",
                        "payload": {"query": 'subscription { job(id: "999") { status } }'},
                    }
                )
            )
            message = json.loads(ws.recv(timeout=10))
            assert message["type"] in ("error", "next")
            errors = (
                message["payload"] if message["type"] == "error" else message["payload"]["errors"]
            )
            assert errors[0]["extensions"]["code"] == "NOT_FOUND"

    with serving(database) as base:
        data = _post(
            base,
            """{ dataset(name: "kept") { items(first: 100, filter: {metadata: {field: "i", op: GTE, value: 20}}) {
                 totalCount edges { node { referenceId annotations { geometry { ... on Box { x width height } } } } } } } }""",
        )
    items_back = data["dataset"]["items"]
    assert items_back["totalCount"] == 10
    first = items_back["edges"][0]["node"]
    assert first == {
        "referenceId": "r20",
        "annotations": [{"geometry": {"x": 20.0, "width": 2.0, "height": 3.0}}],
    }
