"""File import throughput through a real server: a COCO ground-truth file and a detector's
COCO results file, upload to SUCCEEDED.

    python bench/import.py [--images 500] [--coco-val | --ten-x] [--postgres] [--no-sqlite]

Default: 500 images (~3,600 ground truths, ~38,000 detections). ``--coco-val``: 5,000 images
(~36,000 ground truths, ~380,000 detections); ``--ten-x``: 50,000 images (~3.8M detections).
Starts ``sliceboard serve`` (jobs on) on a fresh SQLite file (and, with --postgres, a fresh
PostgreSQL database) and prints, in the same run:

* import: the results file posted with ``importFile`` and followed to SUCCEEDED: rows/s;
* GraphQL batches: the same detections sent as ``upsertPredictions`` batches of 10,000 rows
  into a second run of the same server (JSON built before timing): rows/s;
* floor: a bare script parsing the same file with orjson and bulk-inserting the same rows
  (sqlite3 executemany in one transaction / asyncpg COPY) into a fresh table with the
  prediction table's columns and keys: rows/s;
* the server's peak RSS (VmHWM) and the ratios import/batches and floor/import.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.cocogen import make_detections, make_ground_truth  # noqa: E402
from bench.pg_admin import PG_ADMIN_URL, pg_admin  # noqa: E402
from bench.upload import CREATE_DATASET, CREATE_MODEL, _created, free_port, gql, peak_rss_mb  # noqa: E402

IMPORT = """mutation($input: ImportFileInput!) { importFile(input: $input) {
  __typename ... on Job { id } ... on Error { message } } }"""
JOB = "query($id: ID!) { job(id: $id) { status error rowsDone rowsTotal result issues } }"
CREATE_RUN = "mutation($m: ID!, $d: ID!, $n: String!) { createModelRun(input: {modelId: $m, datasetId: $d, name: $n}) { ... on ModelRun { id } ... on Error { message } } }"
UPSERT = """mutation($id: ID!, $rows: [PredictionInput!]!) { upsertPredictions(modelRunId: $id,
  predictions: $rows) { ... on UpsertResult { new } ... on Error { message } } }"""
BATCH = 10_000


def start_server(
    database_url: str, workdir: Path, name: str
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        SLICEBOARD_RUN_JOBS="1",
        SLICEBOARD_FILES_DIR=str(workdir / f"files-{name}"),
        SLICEBOARD_JOB_POLL_SECONDS="0.1",
        SLICEBOARD_REQUEST_TIMEOUT_SECONDS="600",
    )
    log = (workdir / f"{name}.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "sliceboard.cli", "serve", "--port", str(port), "--database-url", database_url],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    log.close()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    raise RuntimeError((workdir / f"{name}.log").read_text(errors="replace"))


def import_file(
    client: httpx.Client, fields: dict[str, Any], path: Path
) -> tuple[dict[str, Any], float]:
    """(finished job, seconds from the upload's start to SUCCEEDED)."""
    operations = {"query": IMPORT, "variables": {"input": {**fields, "file": None}}}
    start = time.perf_counter()
    with path.open("rb") as file:
        response = client.post(
            "/graphql",
            data={
                "operations": json.dumps(operations),
                "map": json.dumps({"0": ["variables.input.file"]}),
            },
            files={"0": (path.name, file, "application/json")},
            headers={"apollo-require-preflight": "true"},
        )
    payload = response.json()["data"]["importFile"]
    if payload["__typename"] != "Job":
        raise RuntimeError(str(payload))
    while True:
        job = gql(client, JOB, {"id": payload["id"]})["job"]
        if job["status"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            seconds = time.perf_counter() - start
            if job["status"] != "SUCCEEDED":
                raise RuntimeError(str(job)[:3000])
            return job, seconds
        time.sleep(0.05)


def batch_bodies(
    detections: list[dict[str, Any]], names: dict[int, str], run_id: str
) -> list[bytes]:
    rows = [
        {"referenceId": str(d["image_id"]), "annotationId": f"dt{i}", "label": names[d["category_id"]],
         "box": dict(zip(("x", "y", "width", "height"), d["bbox"], strict=True)), "confidence": d["score"]}
        for i, d in enumerate(detections)
    ]  # fmt: skip
    return [
        orjson.dumps({"query": UPSERT, "variables": {"id": run_id, "rows": rows[k : k + BATCH]}})
        for k in range(0, len(rows), BATCH)
    ]


def run_server(
    name: str,
    url: str,
    workdir: Path,
    gt_path: Path,
    dt_path: Path,
    gt: dict[str, Any],
    detections: list[dict[str, Any]],
) -> dict[str, float]:
    proc, base = start_server(url, workdir, name)
    try:
        with httpx.Client(base_url=base, timeout=3600) as client:
            dataset = _created(gql(client, CREATE_DATASET, {"name": "bench"}), "createDataset")
            model = _created(gql(client, CREATE_MODEL, {"ref": "bench"}), "createModel")
            runs = [
                _created(
                    gql(client, CREATE_RUN, {"m": model, "d": dataset, "n": n}), "createModelRun"
                )
                for n in ("import", "batches")
            ]
            server = psutil.Process(proc.pid)
            job, gt_seconds = import_file(client, {"format": "COCO", "datasetId": dataset}, gt_path)
            gt_rows = job["rowsTotal"]
            print(
                f"[{name}] COCO ground truth: {gt_rows:,} rows in {gt_seconds:.2f} s = {gt_rows / gt_seconds:,.0f} rows/s",
                flush=True,
            )
            cpu = _cpu(server)
            job, dt_seconds = import_file(
                client,
                {"format": "COCO_RESULTS", "datasetId": dataset, "modelRunId": runs[0]},
                dt_path,
            )
            assert job["result"]["predictions"]["new"] == len(detections), job["result"]
            import_cpu = _cpu(server) - cpu
            import_rate = len(detections) / dt_seconds
            print(
                f"[{name}] importFile COCO_RESULTS: {len(detections):,} rows in {dt_seconds:.2f} s = {import_rate:,.0f} rows/s"
                f" (server CPU {import_cpu:.2f} s = {len(detections) / import_cpu:,.0f} rows per CPU s)",
                flush=True,
            )
            names = {c["id"]: c["name"] for c in gt["categories"]}
            bodies = batch_bodies(detections, names, runs[1])
            cpu = _cpu(server)
            start = time.perf_counter()
            for body in bodies:
                response = client.post(
                    "/graphql", content=body, headers={"content-type": "application/json"}
                )
                result = response.json()
                if "new" not in ((result.get("data") or {}).get("upsertPredictions") or {}):
                    raise RuntimeError(str(result)[:2000])
            batch_seconds = time.perf_counter() - start
            batch_cpu = _cpu(server) - cpu
            batch_rate = len(detections) / batch_seconds
            print(
                f"[{name}] GraphQL batches of {BATCH:,}: {len(detections):,} rows in {batch_seconds:.2f} s = {batch_rate:,.0f} rows/s"
                f" (server CPU {batch_cpu:.2f} s = {len(detections) / batch_cpu:,.0f} rows per CPU s)",
                flush=True,
            )
            rss = peak_rss_mb(proc.pid)
            print(f"[{name}] server peak RSS {rss:.0f} MB", flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {
        "import": import_rate,
        "batches": batch_rate,
        "rss": rss,
        "import_cpu": import_cpu,
        "batch_cpu": batch_cpu,
    }


def _cpu(process: psutil.Process) -> float:
    """CPU seconds (user + system) of the server process and its children so far: on a shared
    machine a steadier measure of the work than wall time."""
    total = 0.0
    for each in (process, *process.children(recursive=True)):
        try:
            times = each.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


COLUMNS = (
    "model_run_id, item_id, annotation_id, label, type, geometry, area, confidence, created_at"
)


def floor_rows(dt_path: Path) -> list[tuple[Any, ...]]:
    """Parse the file and build the rows a prediction table takes (item id = image id)."""
    now = time.time()
    rows = []
    for i, d in enumerate(orjson.loads(dt_path.read_bytes())):
        x, y, w, h = d["bbox"]
        geometry = orjson.dumps({"x": x, "y": y, "width": w, "height": h, "rotation": 0.0}).decode()
        rows.append(
            (
                1,
                d["image_id"],
                f"dt{i}",
                str(d["category_id"]),
                "BOX",
                geometry,
                w * h,
                d["score"],
                now,
            )
        )
    return rows


def sqlite_floor(dt_path: Path, workdir: Path) -> tuple[int, float]:
    start = time.perf_counter()
    rows = floor_rows(dt_path)
    db = sqlite3.connect(workdir / "floor.db")
    db.executescript(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
        "CREATE TABLE prediction (id INTEGER PRIMARY KEY, model_run_id INTEGER, item_id INTEGER,"
        " annotation_id TEXT, label TEXT, type TEXT, geometry TEXT, area REAL, confidence REAL,"
        " created_at REAL, UNIQUE (model_run_id, item_id, annotation_id));"
        "CREATE INDEX ix_run_label ON prediction (model_run_id, label);"
        "CREATE INDEX ix_item ON prediction (item_id);"
    )
    with db:
        db.executemany(f"INSERT INTO prediction ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)", rows)
    db.close()
    return len(rows), time.perf_counter() - start


async def pg_floor(dt_path: Path, admin_url: str) -> tuple[int, float]:
    import asyncpg  # type: ignore[import-untyped]
    import sqlalchemy as sa

    name = f"sliceboard_floor_{uuid.uuid4().hex[:8]}"
    await pg_admin(f'CREATE DATABASE "{name}"', admin_url)
    url = sa.engine.make_url(admin_url).set(database=name, drivername="postgresql")
    try:
        connection = await asyncpg.connect(url.render_as_string(hide_password=False))
        await connection.execute(
            "CREATE TABLE prediction (id BIGSERIAL PRIMARY KEY, model_run_id BIGINT, item_id BIGINT,"
            " annotation_id TEXT, label TEXT, type TEXT, geometry JSONB, area DOUBLE PRECISION,"
            " confidence DOUBLE PRECISION, created_at DOUBLE PRECISION,"
            " UNIQUE (model_run_id, item_id, annotation_id));"
            "CREATE INDEX ix_run_label ON prediction (model_run_id, label);"
            "CREATE INDEX ix_item ON prediction (item_id);"
        )
        start = time.perf_counter()
        rows = floor_rows(dt_path)
        async with connection.transaction():
            await connection.copy_records_to_table(
                "prediction", records=rows, columns=[c.strip() for c in COLUMNS.split(",")]
            )
        seconds = time.perf_counter() - start
        await connection.close()
    finally:
        await pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', admin_url)
    return len(rows), seconds


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--coco-val", action="store_true", help="5,000 images (~380k detections)")
    parser.add_argument("--ten-x", action="store_true", help="50,000 images (~3.8M detections)")
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    images = 50_000 if args.ten_x else 5_000 if args.coco_val else args.images
    with tempfile.TemporaryDirectory(prefix="sliceboard-import-") as tmp:
        workdir = Path(tmp)
        gt = make_ground_truth(images, seed=1)
        detections = make_detections(gt, seed=2)
        gt_path, dt_path = workdir / "gt.json", workdir / "results.json"
        gt_path.write_bytes(orjson.dumps(gt))
        dt_path.write_bytes(orjson.dumps(detections))
        print(
            f"{images:,} images, {len(gt['annotations']):,} ground truths, {len(detections):,} detections ({dt_path.stat().st_size / 2**20:.0f} MB results file); machine shared, figures are noisy",
            flush=True,
        )
        backends: list[tuple[str, str]] = []
        if not args.no_sqlite:
            backends.append(("sqlite", f"sqlite+aiosqlite:///{workdir / 'bench.db'}"))
        pg_name = None
        if args.postgres:
            import sqlalchemy as sa

            pg_name = f"sliceboard_import_{uuid.uuid4().hex[:8]}"
            asyncio.run(pg_admin(f'CREATE DATABASE "{pg_name}"'))
            backends.append(
                (
                    "postgresql",
                    sa.engine.make_url(PG_ADMIN_URL)
                    .set(database=pg_name)
                    .render_as_string(hide_password=False),
                )
            )
        try:
            for name, url in backends:
                rates = run_server(name, url, workdir, gt_path, dt_path, gt, detections)
                if name == "sqlite":
                    rows, seconds = sqlite_floor(dt_path, workdir)
                else:
                    rows, seconds = asyncio.run(pg_floor(dt_path, PG_ADMIN_URL))
                floor = rows / seconds
                print(
                    f"[{name}] floor (orjson + bulk insert, bare script): {rows:,} rows in {seconds:.2f} s = {floor:,.0f} rows/s",
                    flush=True,
                )
                print(
                    f"[{name}] import / GraphQL batches = {rates['import'] / rates['batches']:.2f}x; floor / import = {floor / rates['import']:.2f}x;"
                    f" server CPU, batches / import = {rates['batch_cpu'] / rates['import_cpu']:.2f}x",
                    flush=True,
                )
        finally:
            if pg_name is not None:
                asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
