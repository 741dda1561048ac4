"""Subscription.job follows an import over the graphql-transport-ws protocol (SQLite): rows done
of rows total while it runs, then SUCCEEDED with its counts.

The import pauses after its first progress report with rows done until the subscriber has seen
that report, so the test holds however fast rows validate (a real server subprocess and a large
file raced the validation pass, and lost once rows validated in one pass).
"""

from __future__ import annotations

import asyncio
import json
import threading
import warnings
from pathlib import Path
from typing import Any

import pytest

from sliceboard.app import create_app
from sliceboard.config import Settings
from sliceboard.jobs.context import JobContext
from tests.support.file_jobs import IMPORT, PREFLIGHT

SUBSCRIBE = "subscription($id: ID!) { job(id: $id) { status rowsDone rowsTotal result } }"
ROWS = 5_000


def _paused_after_first_rows(monkeypatch: pytest.MonkeyPatch, seen: threading.Event) -> None:
    report_rows = JobContext.report_rows

    async def pausing(
        self: JobContext, done: int, total: int | None, message: str | None = None
    ) -> None:
        await report_rows(self, done, total, message)
        if total and 0 < done < total and not seen.is_set():
            await asyncio.to_thread(seen.wait, 60)

    monkeypatch.setattr(JobContext, "report_rows", pausing)


def _test_client() -> type[Any]:
    """Starlette's TestClient (websockets in-process); importing it warns that it will move to
    httpx2, which is not a dependency."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    return TestClient


def test_the_subscription_streams_an_import_until_it_ends(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen_rows = threading.Event()
    _paused_after_first_rows(monkeypatch, seen_rows)
    settings = Settings(
        database_url=sqlite_url,
        run_jobs=True,
        job_poll_seconds=0.05,
        files_dir=str(tmp_path / "files"),
        import_chunk_rows=500,
    )
    lines = b"".join(
        json.dumps({"referenceId": f"i{k}", "width": 10, "height": 10}).encode() + b"\n"
        for k in range(ROWS)
    )
    seen: list[dict[str, Any]] = []
    app = create_app(settings, migrate=False)
    with _test_client()(app, base_url="http://localhost") as client:
        created = client.post(
            "/graphql",
            json={
                "query": 'mutation { createDataset(input: {name: "d"}) { ... on Dataset { id } } }'
            },
        ).json()
        operations = {
            "query": IMPORT,
            "variables": {
                "input": {
                    "format": "NDJSON",
                    "datasetId": created["data"]["createDataset"]["id"],
                    "file": None,
                }
            },
        }
        response = client.post(
            "/graphql",
            data={
                "operations": json.dumps(operations),
                "map": json.dumps({"0": ["variables.input.file"]}),
            },
            files={"0": ("items.ndjson", lines)},
            headers=PREFLIGHT,
        )
        job_id = response.json()["data"]["importFile"]["id"]
        with client.websocket_connect(
            "ws://localhost/graphql", subprotocols=["graphql-transport-ws"]
        ) as ws:
            ws.send_text(json.dumps({"type": "connection_init"}))
            assert json.loads(ws.receive_text())["type"] == "connection_ack"
            payload = {"query": SUBSCRIBE, "variables": {"id": job_id}}
            ws.send_text(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
            while True:
                message = json.loads(ws.receive_text())
                if message["type"] == "complete":
                    break
                job = message["payload"]["data"]["job"]
                seen.append(job)
                if job["status"] == "RUNNING" and 0 < (job["rowsDone"] or 0) < ROWS:
                    seen_rows.set()
    assert seen_rows.is_set(), seen
    done = [job["rowsDone"] for job in seen if job["rowsDone"] is not None]
    assert done == sorted(done)
    last = seen[-1]
    assert last["status"] == "SUCCEEDED" and last["rowsDone"] == last["rowsTotal"] == ROWS
    assert last["result"]["items"] == {"new": ROWS, "updated": 0, "ignored": 0}
