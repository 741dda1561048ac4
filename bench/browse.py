"""Browsing an evaluation's predictions and misses through the real server, and the first
metrics query after an evaluation (issue 17).

    python bench/browse.py [--images 10000] [--clients 8] [--rounds 6] [--pages 3] [--postgres]
                           [--baseline REV] [--keep DIR] [--profile FILE]

Starts ``sliceboard serve`` (in-process job runner) on a fresh SQLite file (``--postgres``: a
fresh PostgreSQL database), uploads a generated COCO-like case (bench/cocogen.py; 10,000 items,
~760,000 box predictions by default) over GraphQL and evaluates it. Then:

1. times the first ``ModelRun.metrics`` query after the evaluation (goal < 500 ms) and a second
   identical one;
2. ``--clients`` concurrent clients page (``--pages`` pages of 100, each after the previous
   page's end cursor) through false positives ordered by IoU and by confidence, with and without
   a filter (labels, a metadata item filter, a confidence range), true positives by IoU and
   false negatives, ``--rounds`` rounds each; p50/p95 per workload (goal p95 < 100 ms).

With ``--baseline REV`` (e.g. ``main``), a server of that git revision (its server/ and schema/
laid out as they install, first on PYTHONPATH) then evaluates the same run again and answers
the same load, and the ratios this tree / REV are printed. Latencies on a shared machine are
noisy: the server's CPU per browse request (process tree, from /proc) is printed too.

Peer, measured in the same run: the straightforward computation (a mask over every prediction,
``np.flatnonzero`` and a stable ``np.argsort`` of the selected keys per request: what the server
did before the orders were precomputed) on the same snapshot, loaded from the database in this
process; the server's first page of every workload is checked equal to the peer's.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import io
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.cocogen import make_detections, make_ground_truth  # noqa: E402
from bench.evaluate_run import SLICE_BUCKETS, percentile, upload  # noqa: E402
from bench.graphql_client import gql, payload_id  # noqa: E402
from bench.pg_admin import PG_ADMIN_URL, pg_admin  # noqa: E402
from bench.upload import free_port  # noqa: E402
from sliceboard.evaluation import FALSE_POSITIVE, TRUE_POSITIVE  # noqa: E402
from sliceboard.services.evaluation.snapshot import Snapshot  # noqa: E402

PREDICTIONS = """query($r: ID!, $f: PredictionFilter, $o: PredictionOrder, $after: String) {
  modelRun(id: $r) { predictions(filter: $f, orderBy: $o, first: 100, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { id confidence iou } } } } }"""
MISSES = """query($r: ID!, $labels: [String!], $after: String) {
  modelRun(id: $r) { falseNegatives(labels: $labels, first: 100, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { id } } } } }"""
FIRST_METRICS = """query($r: ID!) { modelRun(id: $r) { metrics {
  itemCount coco { ap ap50 ap75 apSmall apMedium apLarge ar1 ar10 ar100 arSmall arMedium arLarge }
  perLabel { label ap precision recall } } } }"""
LABELS = ["class1", "class3", "class18"]


@dataclass(frozen=True)
class Workload:
    name: str
    query: str
    variables: dict[str, Any]
    field: str


WORKLOADS = [
    Workload("FP by IoU desc", PREDICTIONS,
             {"f": {"outcome": "FALSE_POSITIVE"}, "o": "IOU_DESC"}, "predictions"),
    Workload("FP by confidence desc", PREDICTIONS,
             {"f": {"outcome": "FALSE_POSITIVE"}, "o": "CONFIDENCE_DESC"}, "predictions"),
    Workload("FP by confidence asc, labels", PREDICTIONS,
             {"f": {"outcome": "FALSE_POSITIVE", "labels": LABELS}, "o": "CONFIDENCE_ASC"},
             "predictions"),
    Workload("FP by IoU asc, bucket + confidence >= 0.3", PREDICTIONS,
             {"f": {"outcome": "FALSE_POSITIVE", "confidenceRange": {"min": 0.3},
                    "items": {"metadata": {"field": "bucket", "op": "EQ", "value": 3}}},
              "o": "IOU_ASC"}, "predictions"),
    Workload("TP by IoU asc", PREDICTIONS,
             {"f": {"outcome": "TRUE_POSITIVE"}, "o": "IOU_ASC"}, "predictions"),
    Workload("false negatives, labels", MISSES, {"labels": LABELS}, "falseNegatives"),
]  # fmt: skip


# --- the peer: the straightforward computation ---------------------------------------------


def straightforward(snapshot: Snapshot, workload: Workload, item_mask: np.ndarray) -> np.ndarray:
    """Positions (into the snapshot's predictions or ground truth) in the answer's order,
    computed as the server did before: masks over every row, then a full stable argsort."""
    table = snapshot.table
    t0 = int(np.searchsorted(table.all_rows, table.row_index(0.5, 0)))
    variables = workload.variables
    names = np.asarray(snapshot.label_names)
    if workload.field == "falseNegatives":
        keep = (table.gt_dt[t0] < 0) & ~table.gt_iscrowd & ~table.gt_ignore
        keep &= np.isin(names, variables["labels"])[table.gt_label]
        return np.flatnonzero(keep)
    f = variables["f"]
    row = table.row_index(0.5, 0)
    state = table.dt_state[row]
    matched = table.dt_gt[t0]
    iou = np.where(matched >= 0, table.dt_iou[t0].astype(np.float64), 0.0)
    keep = np.ones(state.shape[0], dtype=bool)
    if "items" in f:
        keep &= item_mask[table.dt_item]
    keep &= state == (TRUE_POSITIVE if f["outcome"] == "TRUE_POSITIVE" else FALSE_POSITIVE)
    if "labels" in f:
        keep &= np.isin(names, f["labels"])[table.dt_label]
    if "confidenceRange" in f:
        keep &= table.dt_score >= f["confidenceRange"]["min"]
    positions = np.flatnonzero(keep)
    key = {
        "IOU_ASC": iou, "IOU_DESC": -iou,
        "CONFIDENCE_ASC": table.dt_score, "CONFIDENCE_DESC": -table.dt_score,
    }[variables["o"]]  # fmt: skip
    return positions[np.argsort(key[positions], kind="stable")]


async def stored(database_url: str, bucket_refs: set[str]) -> tuple[Snapshot, np.ndarray]:
    """The run's evaluation, read straight from the database, and the mask of its items whose
    reference id is in ``bucket_refs``."""
    from sliceboard.storage.db import create_engine

    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            blob = (
                await connection.exec_driver_sql(
                    "SELECT snapshot FROM evaluation WHERE snapshot IS NOT NULL ORDER BY id DESC"
                )
            ).first()
            items: list[Any] = list(
                (await connection.exec_driver_sql("SELECT id, reference_id FROM item")).all()
            )
    finally:
        await engine.dispose()
    assert blob is not None
    snapshot = Snapshot.from_bytes(bytes(blob[0]))
    chosen = np.asarray([int(r[0]) for r in items if r[1] in bucket_refs], dtype=np.int64)
    return snapshot, np.isin(snapshot.item_ids, chosen)


def timed_ms(fn: Callable[[], Any], repeats: int) -> tuple[Any, list[float]]:
    out, times = None, []
    for _ in range(repeats):
        started = time.perf_counter()
        out = fn()
        times.append(1000 * (time.perf_counter() - started))
    return out, times


# --- the server -----------------------------------------------------------------------------


async def evaluate(client: httpx.AsyncClient, run_id: str) -> float:
    started = time.perf_counter()
    data = await gql(
        client,
        "mutation($r: ID!) { calculateEvaluationMetrics(modelRunId: $r) { ... on Job { id } ... on Error { message } } }",
        {"r": run_id},
    )
    job_id = payload_id(data, "calculateEvaluationMetrics")
    while True:
        job = (await gql(client, "query($j: ID!) { job(id: $j) { status error } }", {"j": job_id}))[
            "job"
        ]
        if job["status"] == "SUCCEEDED":
            return time.perf_counter() - started
        if job["status"] in ("FAILED", "CANCELLED"):
            raise RuntimeError(f"evaluation ended {job}")
        await asyncio.sleep(0.1)


async def browse_load(
    url: str, run_id: str, clients: int, rounds: int, pages: int
) -> tuple[dict[str, list[float]], dict[str, list[int]]]:
    latencies: dict[str, list[float]] = {w.name: [] for w in WORKLOADS}
    first_pages: dict[str, list[int]] = {}

    async def client_loop(client: httpx.AsyncClient, k: int) -> None:
        for r in range(rounds):
            workload = WORKLOADS[(k + r) % len(WORKLOADS)]
            after: str | None = None
            for page in range(pages):
                variables = {"r": run_id, "after": after, **workload.variables}
                sent = time.perf_counter()
                data = await gql(client, workload.query, variables)
                latencies[workload.name].append(1000 * (time.perf_counter() - sent))
                connection = data["modelRun"][workload.field]
                if page == 0:
                    first_pages[workload.name] = [int(e["node"]["id"]) for e in connection["edges"]]
                if not connection["pageInfo"]["hasNextPage"]:
                    break
                after = connection["pageInfo"]["endCursor"]

    async with contextlib.AsyncExitStack() as stack:
        pool = [
            await stack.enter_async_context(httpx.AsyncClient(base_url=url, timeout=300))
            for _ in range(clients)
        ]
        await asyncio.gather(*(client_loop(client, k) for k, client in enumerate(pool)))
    return latencies, first_pages


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds used so far by a process and its living children."""
    total = 0.0
    for process in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            total += times.user + times.system
    return total


def global_ids(snapshot: Snapshot, workload: Workload, positions: np.ndarray) -> list[int]:
    ids = snapshot.gt_ids if workload.field == "falseNegatives" else snapshot.dt_ids
    return [int(i) for i in ids[positions[:100]]]


def node_row_id(node_id: int | str) -> int:
    """A GraphQL id's row id (ids may be opaque: ``Type:row`` in base64)."""
    text = str(node_id)
    with contextlib.suppress(ValueError):
        return int(text)
    decoded = base64.b64decode(text + "=" * (-len(text) % 4)).decode()
    return int(decoded.rsplit(":", 1)[1])


@dataclass
class Measured:
    """One server's answers: the first metrics query after its evaluation (and again), the
    browse latencies per workload, the first page of each, and its CPU per browse request."""

    evaluation_seconds: float
    first_metrics_ms: list[float]
    latencies: dict[str, list[float]]
    first_pages: dict[str, list[int]]
    cpu_ms_per_request: float


def tree_at(rev: str, dest: Path) -> Path:
    """``rev``'s package laid out as it installs (server/ as sliceboard, schema/ as
    sliceboard.schema) under ``dest``, with this tree's compiled extension; put the returned
    folder first on PYTHONPATH to run that version."""
    source = dest / "source"
    source.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "server", "schema"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(source, filter="data")
    package = dest / "packages" / "sliceboard"
    shutil.copytree(source / "server", package)
    shutil.copytree(source / "schema", package / "schema")
    for built in (ROOT / "server").rglob("*.so"):
        shutil.copy2(built, package / built.relative_to(ROOT / "server"))
    return dest / "packages"


async def measure_server(
    args: argparse.Namespace,
    database_url: str,
    log: Path,
    python_path: str,
    prepare: Callable[[httpx.AsyncClient], Any] | None,
    profile: str | None,
) -> tuple[str, Measured]:
    """Starts a server (its code from ``python_path``), runs ``prepare`` (the upload, on the
    first server), evaluates the run, then the first metrics query and the browse load."""
    proc, url = start_server(database_url, log, python_path)
    try:
        async with httpx.AsyncClient(base_url=url, timeout=900) as client:
            run_id = await prepare(client) if prepare is not None else args.run_id
            evaluation_seconds = await evaluate(client, run_id)
            print(f"evaluation, mutation -> SUCCEEDED: {evaluation_seconds:.2f} s")
            firsts = []
            for _ in range(2):
                sent = time.perf_counter()
                await gql(client, FIRST_METRICS, {"r": run_id})
                firsts.append(1000 * (time.perf_counter() - sent))
        profiler = None
        if profile:  # py-spy on the server while the clients browse
            profiler = subprocess.Popen(
                ["py-spy", "record", "-p", str(proc.pid), "-o", profile, "--format", "raw",
                 "--rate", "200", "--subprocesses"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            await asyncio.sleep(1.0)
        cpu_before = tree_cpu_seconds(proc.pid)
        latencies, first_pages = await browse_load(
            url, run_id, args.clients, args.rounds, args.pages
        )
        cpu = tree_cpu_seconds(proc.pid) - cpu_before
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)
            profiler.wait(timeout=60)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    requests = sum(len(v) for v in latencies.values())
    return run_id, Measured(
        evaluation_seconds, firsts, latencies, first_pages, 1000 * cpu / max(requests, 1)
    )


def start_server(
    database_url: str, log: Path, python_path: str
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = dict(os.environ, PYTHONPATH=python_path, SLICEBOARD_JOB_POLL_SECONDS="0.2")
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sliceboard.cli", "serve", "--port", str(port),
             "--database-url", database_url],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited:\n" + log.read_text(errors="replace"))
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url
        time.sleep(0.2)
    raise RuntimeError("server did not start")


def report(
    name: str, measured: Measured, snapshot: Snapshot, item_mask: np.ndarray
) -> tuple[int, float, float]:
    """Prints one server's figures against the peer; (first pages that differ from the peer's,
    p50, p95 over every browse request)."""
    firsts = measured.first_metrics_ms
    print(
        f"\n[{name}] first metrics query after the evaluation: {firsts[0]:.0f} ms "
        f"(goal < 500 ms); the same query again: {firsts[1]:.0f} ms"
    )
    print(
        f"{'workload':44s} {'server p50':>10s} {'p95':>8s}   {'peer (1 request, alone)':>24s}  "
        "ratio p50"
    )
    failures = 0
    for workload in WORKLOADS:
        positions, peer = timed_ms(partial(straightforward, snapshot, workload, item_mask), 5)
        expected = global_ids(snapshot, workload, positions)
        got = [node_row_id(i) for i in measured.first_pages.get(workload.name, [])]
        same = got == expected
        failures += not same
        p50 = percentile(measured.latencies[workload.name], 50)
        p95 = percentile(measured.latencies[workload.name], 95)
        peer_ms = float(np.median(peer))
        print(
            f"{workload.name:44s} {p50:8.1f} ms {p95:6.1f} ms   {peer_ms:19.1f} ms   "
            f"{p50 / peer_ms:6.2f}{'' if same else '  FIRST PAGE DIFFERS FROM THE PEER'}"
        )
    every = [v for values in measured.latencies.values() for v in values]
    p50, p95 = percentile(every, 50), percentile(every, 95)
    print(
        f"all browse requests: n={len(every)} p50 {p50:.1f} ms, p95 {p95:.1f} ms "
        f"(goal p95 < 100 ms); server CPU {measured.cpu_ms_per_request:.1f} ms per request"
    )
    return failures, p50, p95


async def main_async(args: argparse.Namespace) -> int:
    gt = make_ground_truth(args.images, seed=7)
    dts = make_detections(gt, seed=8)
    print(
        f"case: {len(gt['images'])} items, {len(gt['annotations'])} ground truths, "
        f"{len(dts)} predictions; {args.clients} clients x {args.rounds} rounds x "
        f"{args.pages} pages of 100"
    )
    images = sorted(gt["images"], key=lambda i: i["id"])
    bucket_refs = {str(i["id"]) for k, i in enumerate(images) if k % SLICE_BUCKETS == 3}

    async def prepare(client: httpx.AsyncClient) -> str:
        started = time.perf_counter()
        run_id = await upload(client, gt, dts)
        print(f"upload: {time.perf_counter() - started:.1f} s")
        return run_id

    async with contextlib.AsyncExitStack() as stack:
        tmp = Path(args.keep or stack.enter_context(tempfile.TemporaryDirectory()))
        tmp.mkdir(parents=True, exist_ok=True)
        if args.postgres:
            name = f"bench_browse_{uuid.uuid4().hex[:8]}"
            await pg_admin(f'CREATE DATABASE "{name}"')
            stack.push_async_callback(pg_admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            database_url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        else:
            database_url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        print("[this tree]")
        args.run_id, current = await measure_server(
            args, database_url, tmp / "server.log", str(ROOT), prepare, args.profile
        )
        baseline = None
        if args.baseline:
            print(f"[{args.baseline}] the same run, evaluated again by a server of that version")
            packages = tree_at(args.baseline, tmp / "baseline")
            _, baseline = await measure_server(
                args, database_url, tmp / "baseline.log", f"{packages}:{ROOT}", None, None
            )
        snapshot, item_mask = await stored(database_url, bucket_refs)
    failures, p50, p95 = report("this tree", current, snapshot, item_mask)
    if baseline is not None:
        base_failures, base_p50, base_p95 = report(args.baseline, baseline, snapshot, item_mask)
        failures += base_failures
        print(
            f"\nthis tree / {args.baseline}: browse p50 {p50 / base_p50:.3f}, "
            f"p95 {p95 / base_p95:.3f}; server CPU per request "
            f"{current.cpu_ms_per_request / baseline.cpu_ms_per_request:.3f}; first metrics "
            f"query {current.first_metrics_ms[0] / baseline.first_metrics_ms[0]:.3f}; "
            f"evaluation (mutation -> SUCCEEDED) "
            f"{current.evaluation_seconds / baseline.evaluation_seconds:.3f}"
        )
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--pages", type=int, default=3)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument(
        "--baseline",
        metavar="REV",
        help="also measure a server of this git revision on the same run (e.g. main)",
    )
    parser.add_argument("--keep", metavar="DIR", help="keep the SQLite file and server log here")
    parser.add_argument(
        "--profile", metavar="FILE", help="py-spy (raw format) of the server while browsing"
    )
    args = parser.parse_args()
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
