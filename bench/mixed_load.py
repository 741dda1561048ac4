"""Latency under mixed load through the real server (issue 11 §10), and the event loop meanwhile.

    python bench/mixed_load.py [--seconds 15] [--clients 8] [--items 5000] [--only sqlite|postgresql]

Starts ``sliceboard serve`` (in-process job runner) on a fresh SQLite file and on a fresh
PostgreSQL database (both by default), seeds a dataset (5,000 items, 8 box/polygon annotations
each, one run with 10 predictions per item, evaluated), then runs ``--clients`` clients for
``--seconds``: half ask for pages of 100 items with their annotations (random ``after`` cursors,
alternating metadata filters), half for ``metrics`` over metadata filters. Meanwhile a separate
process asks for ``/healthz`` every 10 ms: its latency is the event loop's lag (plus one
``SELECT 1``). Prints p50/p95/p99 per request kind, errors, and the probe's p50/p99/max.

Peer, measured in the same run after the load: the same item pages read straight from SQL in
this process (the page of items, then their annotations: the two statements a server needs at
least), so the page latency is also printed as a ratio to that floor.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import multiprocessing
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.graphql_client import gql, payload_id  # noqa: E402
from bench.pg_admin import PG_ADMIN_URL, pg_admin  # noqa: E402
from bench.upload import RESULT, free_port  # noqa: E402

LABELS = ("car", "person", "bus", "bike", "truck", "dog", "cat", "sign")
WEATHER = ("sun", "rain", "fog", "snow")
BATCH = 5_000
PAGE_QUERY = """query($d: ID!, $after: String, $filter: ItemFilter) { dataset(id: $d) {
  items(first: 100, after: $after, filter: $filter) {
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id referenceId width height metadata
      annotations { annotationId label type iscrowd
        geometry { ... on Box { x y width height rotation }
                   ... on Polygon { vertices { x y } holes { x y } } } } } } } } }"""
METRICS_QUERY = """query($r: ID!, $filter: ItemFilter) { modelRun(id: $r) {
  metrics(filter: $filter) { itemCount groundTruthCount predictionCount
    coco { ap ap50 ap75 apSmall apMedium apLarge ar1 ar10 ar100 }
    perLabel { label ap ap50 precision recall f1 } } } }"""
PROBE_EVERY = 0.01


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


# --- the server and the seed ------------------------------------------------------------------


class Server:
    def __init__(self, database_url: str, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, PYTHONPATH=str(ROOT), SLICEBOARD_JOB_POLL_SECONDS="0.2")
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "sliceboard.cli", "serve", "--port", str(self.port),
                 "--database-url", database_url],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited:\n" + log.read_text(errors="replace"))
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError("server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _geometry(rng: random.Random, k: int) -> dict[str, Any]:
    x, y = rng.uniform(0, 500), rng.uniform(0, 350)
    w, h = rng.uniform(8, 140), rng.uniform(8, 130)
    if k % 4 == 3:
        return {"polygon": {"vertices": [{"x": x, "y": y}, {"x": x + w, "y": y},
                                         {"x": x + w, "y": y + h}, {"x": x, "y": y + h}]}}  # fmt: skip
    return {"box": {"x": x, "y": y, "width": w, "height": h}}


@dataclass
class Seed:
    dataset_id: str
    run_id: str
    cursors: list[str | None] = field(default_factory=list)


async def seed(client: httpx.AsyncClient, items: int, per_item: int) -> Seed:
    rng = random.Random(11)
    dataset_id = payload_id(
        await gql(client, 'mutation { createDataset(input: {name: "load"}) { ... on Dataset { id } ... on Error { message } } }', {}),
        "createDataset",
    )  # fmt: skip
    model_id = payload_id(
        await gql(client, 'mutation { createModel(input: {name: "m", referenceId: "m"}) { ... on Model { id } ... on Error { message } } }', {}),
        "createModel",
    )  # fmt: skip
    run_id = payload_id(
        await gql(
            client,
            'mutation($m: ID!, $d: ID!) { createModelRun(input: {modelId: $m, datasetId: $d, name: "r"}) { ... on ModelRun { id } ... on Error { message } } }',
            {"m": model_id, "d": dataset_id},
        ),
        "createModelRun",
    )
    rows: dict[str, list[dict[str, Any]]] = {
        "items": [
            {
                "referenceId": str(i),
                "width": 640,
                "height": 480,
                "metadata": {
                    "hour": i % 24,
                    "weather": WEATHER[i % 4],
                    "split": "val" if i % 5 else "test",
                },
            }
            for i in range(items)
        ],
        "annotations": [],
        "predictions": [],
    }
    for i in range(items):
        for k in range(per_item):
            geometry = _geometry(rng, k)
            label = LABELS[(i + k) % len(LABELS)]
            rows["annotations"].append(
                {"referenceId": str(i), "annotationId": f"a{k}", "label": label, **geometry}
            )
            for j in range(2 if k < per_item // 2 + 1 else 1):
                rows["predictions"].append(
                    {"referenceId": str(i), "annotationId": f"p{k}-{j}", "label": label,
                     "confidence": round(rng.random(), 3), **geometry}
                )  # fmt: skip
    upserts = {
        "items": ("upsertItems", "datasetId", "ItemInput", dataset_id),
        "annotations": ("upsertAnnotations", "datasetId", "AnnotationInput", dataset_id),
        "predictions": ("upsertPredictions", "modelRunId", "PredictionInput", run_id),
    }
    for kind, (name, key, input_type, target) in upserts.items():
        query = f"mutation($id: ID!, $rows: [{input_type}!]!) {{ {name}({key}: $id, {kind}: $rows) {{ {RESULT} }} }}"
        for start in range(0, len(rows[kind]), BATCH):
            data = await gql(
                client, query, {"id": target, "rows": rows[kind][start : start + BATCH]}
            )
            if "new" not in data[name]:
                raise RuntimeError(f"{name}: {data[name]}")
    job = payload_id(
        await gql(
            client,
            "mutation($r: ID!) { calculateEvaluationMetrics(modelRunId: $r) { ... on Job { id } ... on Error { message } } }",
            {"r": run_id},
        ),
        "calculateEvaluationMetrics",
    )
    while True:
        status = (await gql(client, "query($j: ID!) { job(id: $j) { status error } }", {"j": job}))[
            "job"
        ]
        if status["status"] == "SUCCEEDED":
            break
        if status["status"] in ("FAILED", "CANCELLED"):
            raise RuntimeError(f"evaluation ended {status}")
        await asyncio.sleep(0.2)
    found = Seed(dataset_id, run_id, cursors=[None])
    cursor: str | None = None
    while True:  # every page start, so clients can ask for any page
        page = (await gql(client, PAGE_QUERY, {"d": dataset_id, "after": cursor}))["dataset"][
            "items"
        ]
        if not page["pageInfo"]["hasNextPage"]:
            break
        cursor = page["pageInfo"]["endCursor"]
        found.cursors.append(cursor)
    return found


# --- the load ---------------------------------------------------------------------------------


def item_filters() -> list[dict[str, Any] | None]:
    return [
        None,
        {"metadata": {"field": "split", "op": "EQ", "value": "val"}},
        {"metadata": {"field": "weather", "op": "IN", "value": ["rain", "fog"]}},
        {"metadata": {"field": "hour", "op": "GTE", "value": 6}},
    ]


def metrics_filters() -> list[dict[str, Any] | None]:
    hours = [{"metadata": {"field": "hour", "op": "LT", "value": h}} for h in range(1, 25)]
    weather = [{"metadata": {"field": "weather", "op": "EQ", "value": w}} for w in WEATHER]
    mixed = [
        {"and": [{"metadata": {"field": "split", "op": "EQ", "value": s}},
                 {"metadata": {"field": "weather", "op": "NE", "value": w}}]}
        for s in ("val", "test") for w in WEATHER
    ]  # fmt: skip
    return [None, *hours, *weather, *mixed]


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"items": [], "metrics": []})
    errors: dict[str, int] = field(default_factory=lambda: {"items": 0, "metrics": 0})
    first_error: str | None = None


async def run_clients(
    url: str,
    found: Seed,
    clients: int,
    seconds: float,
    kinds: tuple[str, ...] = ("items", "metrics"),
) -> Tally:
    tally = Tally()
    deadline = time.perf_counter() + seconds
    filters, slices = item_filters(), metrics_filters()

    async def one(client: httpx.AsyncClient, kind: str, variables: dict[str, Any]) -> None:
        query = PAGE_QUERY if kind == "items" else METRICS_QUERY
        sent = time.perf_counter()
        try:
            data = await gql(client, query, variables)
            if kind == "items" and data["dataset"] is None:
                raise RuntimeError("dataset missing")
        except Exception as exc:  # an error is a figure here
            tally.errors[kind] += 1
            tally.first_error = tally.first_error or f"{kind}: {exc}"
            return
        tally.latencies[kind].append(time.perf_counter() - sent)

    async def loop(client: httpx.AsyncClient, k: int) -> None:
        rng = random.Random(k)
        kind = kinds[k % len(kinds)]
        while time.perf_counter() < deadline:
            if kind == "items":
                variables: dict[str, Any] = {
                    "d": found.dataset_id,
                    "after": rng.choice(found.cursors),
                    "filter": rng.choice(filters),
                }
            else:
                variables = {"r": found.run_id, "filter": rng.choice(slices)}
            await one(client, kind, variables)

    async with contextlib.AsyncExitStack() as stack:
        pool = [
            await stack.enter_async_context(httpx.AsyncClient(base_url=url, timeout=120))
            for _ in range(clients)
        ]
        await asyncio.gather(*(loop(client, k) for k, client in enumerate(pool)))
    return tally


def probe_healthz(url: str, seconds: float, out: Any) -> None:
    """In its own process, so the clients' JSON parsing never delays a probe: /healthz every
    10 ms, each latency in seconds."""
    latencies: list[float] = []
    failures = 0
    deadline = time.perf_counter() + seconds
    with httpx.Client(base_url=url, timeout=60) as client:
        while time.perf_counter() < deadline:
            sent = time.perf_counter()
            try:
                ok = client.get("/healthz").status_code == 200
            except httpx.HTTPError:
                ok = False
            took = time.perf_counter() - sent
            if ok:
                latencies.append(took)
            else:
                failures += 1
            time.sleep(max(0.0, PROBE_EVERY - took))
    out.send((latencies, failures))


# --- the peer: the same pages straight from SQL -----------------------------------------------


async def sql_floor(database_url: str, found: Seed, pages: int) -> list[float]:
    """Seconds per page for the two statements a page needs: items after a cursor, then their
    annotations, as Core rows (no ORM objects, no GraphQL, no HTTP)."""
    import sqlalchemy as sa

    from sliceboard.storage import tables
    from sliceboard.storage.db import create_engine

    items = tables.Item.__table__  # type: ignore[attr-defined]
    annotations = tables.Annotation.__table__  # type: ignore[attr-defined]
    engine = create_engine(database_url)
    rng = random.Random(5)
    times: list[float] = []
    try:
        async with engine.connect() as connection:
            for _ in range(pages):
                cursor = rng.choice(found.cursors)
                after = (
                    0 if cursor is None else int(base64.urlsafe_b64decode(cursor).split(b":")[1])
                )
                sent = time.perf_counter()
                rows = (
                    await connection.execute(
                        sa.select(items)
                        .where(items.c.dataset_id == int(found.dataset_id), items.c.id > after)
                        .order_by(items.c.id)
                        .limit(101)
                    )
                ).all()
                ids = [row.id for row in rows[:100]]
                (
                    await connection.execute(
                        sa.select(annotations)
                        .where(annotations.c.item_id.in_(ids))
                        .order_by(annotations.c.id)
                    )
                ).all()
                times.append(time.perf_counter() - sent)
    finally:
        await engine.dispose()
    return times


# --- one backend ------------------------------------------------------------------------------


def report(
    name: str, tally: Tally, probes: list[float], probe_failures: int, floor: list[float]
) -> None:
    print(f"\n[{name}]")
    for kind, values in tally.latencies.items():
        print(
            f"  {kind:<8} n={len(values):>5}  p50 {1000 * percentile(values, 50):7.1f} ms  "
            f"p95 {1000 * percentile(values, 95):7.1f} ms  p99 {1000 * percentile(values, 99):7.1f} ms  "
            f"errors {tally.errors[kind]}   (goal p95 < 150 ms, 0 errors)"
        )
    if tally.first_error:
        print(f"  first error: {tally.first_error}")
    print(
        f"  /healthz every 10 ms (loop lag + SELECT 1): n={len(probes)}  "
        f"p50 {1000 * percentile(probes, 50):.1f} ms  p99 {1000 * percentile(probes, 99):.1f} ms  "
        f"max {1000 * max(probes, default=float('nan')):.1f} ms  failures {probe_failures}   (goal max ~50 ms)"
    )
    page_p50 = percentile(tally.latencies["items"], 50)
    floor_p50 = percentile(floor, 50)
    print(
        f"  peer: the same pages straight from SQL (Core rows, in-process): p50 {1000 * floor_p50:.1f} ms; "
        f"item page p50 through the server = {page_p50 / floor_p50:.1f} x that floor"
    )


async def run_backend(
    name: str, database_url: str, args: argparse.Namespace, workdir: Path
) -> None:
    server = Server(database_url, workdir / f"{name}.log")
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=600) as client:
            started = time.perf_counter()
            found = await seed(client, args.items, args.per_item)
        print(f"[{name}] seeded and evaluated in {time.perf_counter() - started:.1f} s; "
              f"{args.clients} clients for {args.seconds:.0f} s", flush=True)  # fmt: skip
        receive, send = multiprocessing.Pipe(duplex=False)
        prober = multiprocessing.get_context("spawn").Process(
            target=probe_healthz, args=(server.url, args.seconds, send)
        )
        prober.start()
        tally = await run_clients(server.url, found, args.clients, args.seconds, args.kinds)
        probes, probe_failures = await asyncio.to_thread(receive.recv)
        prober.join()
    finally:
        server.stop()
    floor = await sql_floor(database_url, found, pages=200)
    report(name, tally, probes, probe_failures, floor)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=15.0, help="load duration (issue: 60)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--items", type=int, default=5_000)
    parser.add_argument("--per-item", type=int, default=8, help="annotations per item")
    parser.add_argument("--only", choices=("sqlite", "postgresql"), default=None)
    parser.add_argument(
        "--postgres", action="store_true", help="PostgreSQL only (as --only postgresql)"
    )
    parser.add_argument(
        "--kind", choices=("items", "metrics"), default=None, help="every client asks for this kind"
    )
    args = parser.parse_args()
    args.kinds = (args.kind,) if args.kind else ("items", "metrics")
    backends = (
        ("postgresql",)
        if args.postgres
        else (args.only,)
        if args.only
        else ("sqlite", "postgresql")
    )
    print(
        f"case: {args.items} items, {args.per_item} annotations each; backends {', '.join(backends)}"
    )
    with tempfile.TemporaryDirectory(prefix="sliceboard-mixed-") as tmp:
        workdir = Path(tmp)
        for backend in backends:
            if backend == "sqlite":
                asyncio.run(
                    run_backend(
                        "sqlite", f"sqlite+aiosqlite:///{workdir / 'load.db'}", args, workdir
                    )
                )
                continue
            import sqlalchemy as sa

            name = f"sliceboard_load_{uuid.uuid4().hex[:10]}"
            asyncio.run(pg_admin(f'CREATE DATABASE "{name}"'))
            url = (
                sa.engine.make_url(PG_ADMIN_URL)
                .set(database=name)
                .render_as_string(hide_password=False)
            )
            try:
                asyncio.run(run_backend("postgresql", url, args, workdir))
            finally:
                asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    return 0


if __name__ == "__main__":
    sys.exit(main())
