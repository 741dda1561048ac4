"""``sliceboard serve`` with ``SLICEBOARD_LOG_FORMAT=json``: stderr holds one JSON object per
line, for the requests and for a job's start, progress and end (with its duration)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.serving import start_server

pytestmark = pytest.mark.slow

BOX = {"x": 0, "y": 0, "width": 10, "height": 10}


def _data(base: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    response = httpx.post(
        f"{base}/graphql", json={"query": query, "variables": variables or {}}, timeout=30
    )
    body: dict[str, Any] = response.json()
    assert response.status_code == 200 and "errors" not in body, body
    payload: dict[str, Any] = next(iter(body["data"].values()))
    return payload


def _evaluate_one_prediction(base: str) -> str:
    dataset = _data(
        base, 'mutation { createDataset(input: {name: "d"}) { ... on Dataset { id } } }'
    )["id"]
    _data(
        base,
        'mutation($d: ID!) { upsertItems(datasetId: $d, items: [{referenceId: "r"}]) { __typename } }',
        {"d": dataset},
    )
    row = {"referenceId": "r", "annotationId": "a", "label": "car", "box": BOX}
    _data(
        base,
        "mutation($d: ID!, $a: [AnnotationInput!]!) { upsertAnnotations(datasetId: $d, annotations: $a) { __typename } }",
        {"d": dataset, "a": [row]},
    )
    model = _data(
        base,
        'mutation { createModel(input: {name: "m", referenceId: "m"}) { ... on Model { id } } }',
    )["id"]
    run = _data(
        base,
        'mutation($m: ID!, $d: ID!) { createModelRun(input: {modelId: $m, datasetId: $d, name: "r"}) { ... on ModelRun { id } } }',
        {"m": model, "d": dataset},
    )["id"]
    _data(
        base,
        "mutation($r: ID!, $p: [PredictionInput!]!) { upsertPredictions(modelRunId: $r, predictions: $p) { __typename } }",
        {"r": run, "p": [{**row, "confidence": 0.9}]},
    )
    job = _data(
        base,
        "mutation($r: ID!) { calculateEvaluationMetrics(modelRunId: $r) { ... on Job { id } } }",
        {"r": run},
    )["id"]
    deadline = time.monotonic() + 60
    while (
        _data(base, "query($j: ID!) { job(id: $j) { status } }", {"j": job})["status"]
        != "SUCCEEDED"
    ):
        assert time.monotonic() < deadline, "the evaluation did not succeed"
        time.sleep(0.05)
    return str(job)


def test_requests_and_jobs_are_logged_as_json_lines(tmp_path: Path) -> None:
    log = tmp_path / "stderr.log"
    with log.open("wb") as stderr:
        process, base = start_server(
            "--database-url",
            f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}",
            env={
                **os.environ,
                "SLICEBOARD_LOG_FORMAT": "json",
                "SLICEBOARD_JOB_POLL_SECONDS": "0.1",
            },
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        try:
            job_id = int(_evaluate_one_prediction(base))
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    lines = [json.loads(line) for line in log.read_text().splitlines()]  # every line is JSON
    requests = [e for e in lines if e["logger"] == "sliceboard.http"]
    assert {(e["method"], e["path"], e["status"]) for e in requests} == {("POST", "/graphql", 200)}
    assert all(e["duration_ms"] > 0 for e in requests)
    job = [(e["level"], e["message"]) for e in lines if e.get("job_id") == job_id]
    assert job[0] == ("INFO", job[0][1]) and " attempt 1 of 3 started by " in job[0][1]
    assert (
        "INFO",
        f"job {job_id} (evaluate) progress 10%: loaded 1 predictions and 1 ground truths",
    ) in job
    ended = [e for e in lines if e.get("job_id") == job_id and e.get("status") == "SUCCEEDED"]
    assert len(ended) == 1 and ended[0]["duration_seconds"] > 0
    assert ended[0]["message"].startswith(f"job {job_id} (evaluate) attempt 1 SUCCEEDED in ")
    assert ended[0]["message"].endswith(" s")
    assert any(
        e["logger"].startswith("uvicorn") and "Application startup complete" in e["message"]
        for e in lines
    )
