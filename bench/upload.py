"""Upload throughput through the real server: items, box annotations, box predictions.

    python bench/upload.py [--quick] [--postgres] [--batch 5000] [--no-peer]
                           [--geometry box|polygon|rotated] [--counts ITEMS ANNOTATIONS PREDICTIONS]

Starts ``sliceboard serve`` as a subprocess on a fresh SQLite file (and, with --postgres, on a
fresh PostgreSQL database), then uploads as a client would: GraphQL mutations with JSON
variables over HTTP, one batch per request. Full size: 20,000 items, 150,000 annotations,
1,000,000 predictions (--quick: 10x fewer; --counts sets them). ``--geometry polygon`` sends
12-vertex polygons and ``rotated`` rotated boxes instead of boxes (issue 17's case: ``--counts
2000 20000 60000 --geometry polygon``, against the same counts as boxes). Prints rows/s per phase (time spent in requests;
building the next batch on the client is not counted) and the server's peak RSS (VmHWM).

Peer: the same prediction batches written in this process straight through
``services.uploads.upsert_predictions`` (no HTTP, no GraphQL) on its own SQLite file; the
ratio says what the transport costs on top of validation and SQL.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.pg_admin import PG_ADMIN_URL, pg_admin  # noqa: E402

RESULT = "... on UpsertResult { new updated ignored } ... on Error { message } ... on InvalidInputError { issues { path message } }"
CREATE_DATASET = "mutation($name: String!) { createDataset(input: {name: $name}) { ... on Dataset { id } ... on Error { message } } }"
CREATE_MODEL = "mutation($ref: String!) { createModel(input: {name: $ref, referenceId: $ref}) { ... on Model { id } ... on Error { message } } }"
CREATE_RUN = 'mutation($m: ID!, $d: ID!) { createModelRun(input: {modelId: $m, datasetId: $d, name: "bench"}) { ... on ModelRun { id } ... on Error { message } } }'
UPSERT = {
    "items": "mutation($id: ID!, $rows: [ItemInput!]!) { upsertItems(datasetId: $id, items: $rows) { %s } }",
    "annotations": "mutation($id: ID!, $rows: [AnnotationInput!]!) { upsertAnnotations(datasetId: $id, annotations: $rows) { %s } }",
    "predictions": "mutation($id: ID!, $rows: [PredictionInput!]!) { upsertPredictions(modelRunId: $id, predictions: $rows) { %s } }",
}
LABELS = ("car", "person", "bus", "bike", "truck", "dog", "cat", "sign")


@dataclass(frozen=True)
class Sizes:
    items: int
    annotations: int
    predictions: int


def _box(rng: random.Random) -> dict[str, float]:
    return {
        "x": round(rng.uniform(0, 600), 2),
        "y": round(rng.uniform(0, 400), 2),
        "width": round(rng.uniform(2, 200), 2),
        "height": round(rng.uniform(2, 200), 2),
    }


def _polygon(rng: random.Random) -> dict[str, Any]:
    """A convex 12-gon (the shape of issue 17's polygon case)."""
    cx, cy = rng.uniform(40, 600), rng.uniform(40, 440)
    rx, ry = rng.uniform(2, 100), rng.uniform(2, 100)
    return {
        "vertices": [
            {
                "x": round(cx + rx * math.cos(k * math.pi / 6), 2),
                "y": round(cy + ry * math.sin(k * math.pi / 6), 2),
            }
            for k in range(12)
        ]
    }


def _geometry(rng: random.Random, geometry: str) -> tuple[str, dict[str, Any]]:
    if geometry == "polygon":
        return "polygon", _polygon(rng)
    box = _box(rng)
    if geometry == "rotated":
        box["rotation"] = round(rng.uniform(-math.pi, math.pi), 4)
    return "box", box


def item_batches(n: int, batch: int) -> Iterator[list[dict[str, Any]]]:
    rows = [
        {
            "referenceId": f"img-{i}",
            "url": f"s3://bench/img-{i}.jpg",
            "width": 640,
            "height": 480,
            "metadata": {"split": "val" if i % 5 else "test", "hour": i % 24},
        }
        for i in range(n)
    ]
    for start in range(0, n, batch):
        yield rows[start : start + batch]


def object_batches(
    n: int, items: int, batch: int, *, predictions: bool, seed: int, geometry: str = "box"
) -> Iterator[list[dict[str, Any]]]:
    """``n`` objects spread evenly over the items, item after item (as a detector's output
    file), each a ``geometry`` (box, polygon or rotated box)."""
    rng = random.Random(seed)
    per_item = max(1, n // items)
    rows: list[dict[str, Any]] = []
    for i in range(n):
        row: dict[str, Any] = {
            "referenceId": f"img-{(i // per_item) % items}",
            "annotationId": f"{'p' if predictions else 'a'}-{i}",
            "label": LABELS[i % len(LABELS)],
        }
        field, value = _geometry(rng, geometry)
        row[field] = value
        if predictions:
            row["confidence"] = round(rng.random(), 4)
        rows.append(row)
        if len(rows) == batch:
            yield rows
            rows = []
    if rows:
        yield rows


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def peak_rss_mb(pid: int) -> float:
    """The kernel's high-water mark of the process's resident set (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float(psutil.Process(pid).memory_info().rss) / 2**20


class Server:
    def __init__(self, database_url: str, log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, PYTHONPATH=str(ROOT), SLICEBOARD_RUN_JOBS="0")
        self.log_path = log_path
        log = log_path.open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sliceboard.cli",
                "serve",
                "--port",
                str(self.port),
                "--database-url",
                database_url,
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()  # the child holds its own descriptor

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log = self.log_path.read_text(errors="replace")
                raise RuntimeError("server exited:\n" + log)
            try:
                if httpx.get(self.url + "/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("server did not become ready")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def gql(client: httpx.Client, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = client.post(
        "/graphql",
        content=orjson.dumps({"query": query, "variables": variables}),
        headers={"content-type": "application/json"},
    )
    body = orjson.loads(response.content)
    if response.status_code != 200 or body.get("errors"):
        raise RuntimeError(f"GraphQL failed ({response.status_code}): {body}")
    data: dict[str, Any] = body["data"]
    return data


def _created(data: dict[str, Any], field: str) -> str:
    payload = data[field]
    if "id" not in payload:
        raise RuntimeError(f"{field}: {payload}")
    return str(payload["id"])


def upload_phase(
    client: httpx.Client, kind: str, target_id: str, batches: Iterator[list[dict[str, Any]]]
) -> tuple[int, float]:
    """Rows sent and seconds spent inside requests (client-side batch building excluded)."""
    field = {
        "items": "upsertItems",
        "annotations": "upsertAnnotations",
        "predictions": "upsertPredictions",
    }[kind]
    rows = 0
    seconds = 0.0
    query = UPSERT[kind] % RESULT
    for batch in batches:
        body = orjson.dumps({"query": query, "variables": {"id": target_id, "rows": batch}})
        start = time.perf_counter()
        response = client.post(
            "/graphql", content=body, headers={"content-type": "application/json"}
        )
        seconds += time.perf_counter() - start
        result = orjson.loads(response.content)
        payload = (result.get("data") or {}).get(field) or {}
        if response.status_code != 200 or "new" not in payload:
            raise RuntimeError(f"{kind} batch failed: {str(result)[:2000]}")
        if payload["new"] != len(batch):
            raise RuntimeError(f"{kind}: expected {len(batch)} new rows, got {payload}")
        rows += len(batch)
    return rows, seconds


def _line(phase: str, rows: int, seconds: float) -> str:
    return f"{phase:<12} {rows:>9,} rows in {seconds:7.2f} s = {rows / seconds:>9,.0f} rows/s"


def run_backend(
    name: str, database_url: str, sizes: Sizes, batch: int, workdir: Path, geometry: str = "box"
) -> dict[str, Any]:
    server = Server(database_url, workdir / f"{name}.log")
    try:
        server.wait_ready()
        with httpx.Client(base_url=server.url, timeout=600.0) as client:
            dataset_id = _created(gql(client, CREATE_DATASET, {"name": "bench"}), "createDataset")
            model_id = _created(gql(client, CREATE_MODEL, {"ref": "bench-model"}), "createModel")
            run_id = _created(
                gql(client, CREATE_RUN, {"m": model_id, "d": dataset_id}), "createModelRun"
            )
            work = {
                "items": ("items", dataset_id, item_batches(sizes.items, batch)),
                "annotations": (
                    "annotations",
                    dataset_id,
                    object_batches(
                        sizes.annotations,
                        sizes.items,
                        batch,
                        predictions=False,
                        seed=1,
                        geometry=geometry,
                    ),
                ),
                "predictions": (
                    "predictions",
                    run_id,
                    object_batches(
                        sizes.predictions,
                        sizes.items,
                        batch,
                        predictions=True,
                        seed=2,
                        geometry=geometry,
                    ),
                ),
            }
            phases: dict[str, tuple[int, float]] = {}
            process = psutil.Process(server.proc.pid)
            for phase, (kind, target, batches) in work.items():
                cpu = process.cpu_times()
                phases[phase] = upload_phase(client, kind, target, batches)
                after = process.cpu_times()
                used = after.user + after.system - cpu.user - cpu.system
                rows, seconds = phases[phase]
                print(
                    f"[{name}] {_line(phase, rows, seconds)}"
                    f" (server CPU {used:.2f} s = {rows / max(used, 1e-9):,.0f} rows per CPU s)",
                    flush=True,
                )
            rss = peak_rss_mb(server.proc.pid)
            print(f"[{name}] server peak RSS {rss:.0f} MB", flush=True)
    finally:
        server.stop()
    return {"backend": name, "phases": phases, "peak_rss_mb": rss}


def _snake(row: dict[str, Any]) -> dict[str, Any]:
    """What schema/input_coercion.py hands the service for one PredictionInput (rotation
    defaulted, a polygon's holes None)."""
    out = {
        "reference_id": row["referenceId"],
        "annotation_id": row["annotationId"],
        "label": row["label"],
        "confidence": row.get("confidence"),
    }
    if "polygon" in row:
        out["polygon"] = {"vertices": row["polygon"]["vertices"], "holes": None}
    else:
        out["box"] = {"rotation": 0.0, **row["box"]}
    return out


async def direct_peer(
    sizes: Sizes, batch: int, workdir: Path, geometry: str = "box"
) -> tuple[int, float]:
    """The prediction phase written straight through the service, same batches, own SQLite file."""
    from sliceboard.services import catalog, uploads
    from sliceboard.storage.db import create_engine, create_sessionmaker, transaction
    from sliceboard.storage.migrate import upgrade_async

    url = f"sqlite+aiosqlite:///{workdir / 'peer.db'}"
    await upgrade_async(url)
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    try:
        async with transaction(sessions) as session:
            dataset = await catalog.create_dataset(session, name="peer", metadata=None)
            model = await catalog.create_model(session, name="m", reference_id="m", metadata=None)
            run = await catalog.create_model_run(
                session, model_id=str(model.id), dataset_id=str(dataset.id), name="r"
            )
        for items in item_batches(sizes.items, batch):
            async with transaction(sessions) as session:
                await uploads.upsert_items(
                    session,
                    dataset_id=str(dataset.id),
                    items=[
                        {
                            "reference_id": r["referenceId"],
                            "url": r["url"],
                            "width": r["width"],
                            "height": r["height"],
                            "metadata": r["metadata"],
                        }
                        for r in items
                    ],
                    update=False,
                    max_rows=batch,
                )
        rows = 0
        seconds = 0.0
        for raw in object_batches(
            sizes.predictions, sizes.items, batch, predictions=True, seed=2, geometry=geometry
        ):
            converted = [_snake(r) for r in raw]
            start = time.perf_counter()
            async with transaction(sessions) as session:
                counts = await uploads.upsert_predictions(
                    session,
                    model_run_id=str(run.id),
                    predictions=converted,
                    update=False,
                    max_rows=batch,
                )
            seconds += time.perf_counter() - start
            assert counts.new == len(raw)
            rows += len(raw)
        return rows, seconds
    finally:
        await engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="10x smaller")
    parser.add_argument(
        "--postgres", action="store_true", help="also run on a fresh PostgreSQL database"
    )
    parser.add_argument("--batch", type=int, default=5_000, help="rows per request (default 5000)")
    parser.add_argument("--no-peer", action="store_true", help="skip the in-process service peer")
    parser.add_argument(
        "--geometry", choices=("box", "polygon", "rotated"), default="box", help="object shape"
    )
    parser.add_argument(
        "--counts", type=int, nargs=3, metavar=("ITEMS", "ANNOTATIONS", "PREDICTIONS")
    )
    args = parser.parse_args()
    sizes = Sizes(20_000, 150_000, 1_000_000)
    if args.quick:
        sizes = Sizes(2_000, 15_000, 100_000)
    if args.counts:
        sizes = Sizes(*args.counts)
    print(
        f"sizes: {sizes.items} items, {sizes.annotations} annotations, {sizes.predictions} predictions ({args.geometry}); batch {args.batch}",
        flush=True,
    )
    results = []
    with tempfile.TemporaryDirectory(prefix="sliceboard-bench-") as tmp:
        workdir = Path(tmp)
        results.append(
            run_backend(
                "sqlite",
                f"sqlite+aiosqlite:///{workdir / 'bench.db'}",
                sizes,
                args.batch,
                workdir,
                args.geometry,
            )
        )
        if args.postgres:
            import sqlalchemy as sa

            name = f"sliceboard_bench_{uuid.uuid4().hex[:10]}"
            asyncio.run(pg_admin(f'CREATE DATABASE "{name}"'))
            url = (
                sa.engine.make_url(PG_ADMIN_URL)
                .set(database=name)
                .render_as_string(hide_password=False)
            )
            try:
                results.append(
                    run_backend("postgresql", url, sizes, args.batch, workdir, args.geometry)
                )
            finally:
                asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        peer = (
            None
            if args.no_peer
            else asyncio.run(direct_peer(sizes, args.batch, workdir, args.geometry))
        )
    for result in results:
        print(f"\n[{result['backend']}] server peak RSS {result['peak_rss_mb']:.0f} MB")
        for phase, (rows, seconds) in result["phases"].items():
            print(f"  {_line(phase, rows, seconds)}")
    if peer is not None:
        rows, seconds = peer
        direct = rows / seconds
        print(
            f"\n[peer: service in-process, sqlite] predictions {rows:,} rows in {seconds:.2f} s = {direct:,.0f} rows/s"
        )
        for result in results:
            p_rows, p_seconds = result["phases"]["predictions"]
            print(
                f"  {result['backend']}: GraphQL/HTTP throughput = {p_rows / p_seconds / direct:.2f} x the direct service"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
