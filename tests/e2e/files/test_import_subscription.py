"""Subscription.job follows an import against a real ``sliceboard serve`` (SQLite): rows done
of rows total while it runs, then SUCCEEDED with its counts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.support.file_jobs import IMPORT, PREFLIGHT
from tests.support.serving import post, start_server, subscription

pytestmark = pytest.mark.slow

SUBSCRIBE = "subscription($id: ID!) { job(id: $id) { status rowsDone rowsTotal result } }"
ROWS = 120_000  # enough chunks that the validation pass outlasts several job polls


def test_the_subscription_streams_an_import_until_it_ends(tmp_path: Path) -> None:
    process, base = start_server(
        "--database-url",
        f"sqlite+aiosqlite:///{tmp_path / 'sliceboard.db'}",
        env={
            **os.environ,
            "SLICEBOARD_JOB_POLL_SECONDS": "0.1",
            "SLICEBOARD_FILES_DIR": str(tmp_path / "files"),
            "SLICEBOARD_IMPORT_CHUNK_ROWS": "1000",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        dataset_id = post(
            base, 'mutation { createDataset(input: {name: "d"}) { ... on Dataset { id } } }'
        )["createDataset"]["id"]
        lines = b"".join(
            json.dumps({"referenceId": f"i{k}", "width": 10, "height": 10}).encode() + b"\n"
            for k in range(ROWS)
        )
        operations = {
            "query": IMPORT,
            "variables": {"input": {"format": "NDJSON", "datasetId": dataset_id, "file": None}},
        }
        response = httpx.post(
            f"{base}/graphql",
            data={
                "operations": json.dumps(operations),
                "map": json.dumps({"0": ["variables.input.file"]}),
            },
            files={"0": ("items.ndjson", lines)},
            headers=PREFLIGHT,
            timeout=60,
        )
        job_id = response.json()["data"]["importFile"]["id"]
        seen = []
        with subscription(base, SUBSCRIBE, {"id": job_id}) as ws:
            while True:
                message = json.loads(ws.recv(timeout=120))
                if message["type"] == "complete":
                    break
                seen.append(message["payload"]["data"]["job"])
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert any(job["status"] == "RUNNING" and 0 < (job["rowsDone"] or 0) < ROWS for job in seen), (
        seen
    )
    done = [job["rowsDone"] for job in seen if job["rowsDone"] is not None]
    assert done == sorted(done)
    last = seen[-1]
    assert last["status"] == "SUCCEEDED" and last["rowsDone"] == last["rowsTotal"] == ROWS
    assert last["result"]["items"] == {"new": ROWS, "updated": 0, "ignored": 0}
