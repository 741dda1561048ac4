"""What the Python client costs on top of hand-written GraphQL batches.

    python bench/client_upload.py [--predictions 200000] [--postgres]

Starts ``sliceboard serve`` on a fresh SQLite file (and, with --postgres, a fresh PostgreSQL
database), creates the same items in two datasets, then uploads the same box predictions into
two runs: once through ``sliceboard.client.Client.upsert_predictions`` (one call: it batches,
encodes each row once, checks every number is finite and retries), once as bench/upload.py
does it by hand (orjson-encoded batches of 10,000 rows POSTed with httpx). Both timings include
encoding and requests. Prints rows/s of each and the ratio client / hand-written, measured in
the same run against the same server.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.pg_admin import PG_ADMIN_URL, pg_admin  # noqa: E402
from bench.upload import RESULT, UPSERT, Server, item_batches, object_batches  # noqa: E402
from sliceboard.client import Client  # noqa: E402

BATCH = 10_000


def by_hand(
    http: httpx.Client, run_id: str, batches: list[list[dict[str, Any]]]
) -> tuple[int, float]:
    """bench/upload.py's requests, timed with their encoding as the client's are."""
    query = UPSERT["predictions"] % RESULT
    start = time.perf_counter()
    rows = 0
    for batch in batches:
        body = orjson.dumps({"query": query, "variables": {"id": run_id, "rows": batch}})
        response = http.post("/graphql", content=body, headers={"content-type": "application/json"})
        payload = orjson.loads(response.content)["data"]["upsertPredictions"]
        if payload.get("new") != len(batch):
            raise RuntimeError(f"batch failed: {str(payload)[:500]}")
        rows += len(batch)
    return rows, time.perf_counter() - start


def measure(name: str, database_url: str, items: int, predictions: int, workdir: Path) -> float:
    server = Server(database_url, workdir / f"{name}.log")
    try:
        server.wait_ready()
        with Client(server.url, progress=False) as client:
            rows = [
                row
                for batch in object_batches(predictions, items, BATCH, predictions=True, seed=2)
                for row in batch
            ]
            runs = []
            for label in ("client", "by-hand"):
                dataset = client.create_dataset(f"{label}-{uuid.uuid4().hex[:6]}")
                for batch in item_batches(items, BATCH):
                    client.upsert_items(dataset, batch)
                model = client.ensure_model("bench")
                runs.append(client.create_model_run(model, dataset, label))
            start = time.perf_counter()
            result = client.upsert_predictions(runs[0], rows)
            client_seconds = time.perf_counter() - start
            assert result.new == predictions, result
        with httpx.Client(base_url=server.url, timeout=600.0) as http:
            batches = [rows[k : k + BATCH] for k in range(0, len(rows), BATCH)]
            hand_rows, hand_seconds = by_hand(http, runs[1].id, batches)
        client_rate, hand_rate = predictions / client_seconds, hand_rows / hand_seconds
        print(
            f"[{name}] client {client_rate:>9,.0f} rows/s ({client_seconds:.2f} s)   "
            f"by hand {hand_rate:>9,.0f} rows/s ({hand_seconds:.2f} s)   "
            f"client / by hand = {client_rate / hand_rate:.2f}",
            flush=True,
        )
        return client_rate / hand_rate
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--predictions", type=int, default=200_000)
    parser.add_argument("--items", type=int, default=5_000)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        measure(
            "sqlite",
            f"sqlite+aiosqlite:///{workdir / 'bench.db'}",
            args.items,
            args.predictions,
            workdir,
        )
        if args.postgres:
            name = f"sliceboard_bench_{uuid.uuid4().hex[:8]}"
            asyncio.run(pg_admin(f'CREATE DATABASE "{name}"'))
            try:
                url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
                measure("postgresql", url, args.items, args.predictions, workdir)
            finally:
                asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    return 0


if __name__ == "__main__":
    sys.exit(main())
