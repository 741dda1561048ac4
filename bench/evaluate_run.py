"""Evaluating a model run through the real server, and how the server answers meanwhile.

    python bench/evaluate_run.py [--quick] [--images 5000] [--clients 8]

Starts ``sliceboard serve`` (SQLite file, in-process job runner), uploads a COCO-val-scale
case (5,000 items, ~36,000 ground-truth boxes, ~400,000 box predictions; --quick: 500 items)
through GraphQL, then:

1. calls ``calculateEvaluationMetrics`` and times mutation -> SUCCEEDED, while a client sends a
   small query every 50 ms and records its latency (p50/p99: does the server stay responsive?);
2. sends ``ModelRun.metrics`` over a 10% metadata slice from 8 concurrent clients (p50/p95);
3. peer, measured in the same run: pycocotools' evaluate+accumulate+summarize on the same data
   in this process, so the evaluation time is printed as a ratio too; and the slice metrics
   are checked against pycocotools on the same images (max abs difference).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.cocogen import make_detections, make_ground_truth  # noqa: E402
from bench.graphql_client import gql, payload_id  # noqa: E402
from bench.runner import descendants  # noqa: E402
from bench.upload import RESULT, free_port, peak_rss_mb  # noqa: E402

BATCH = 5_000
SLICE_BUCKETS = 10
METRICS_QUERY = """query($run: ID!, $bucket: JSON!) { modelRun(id: $run) {
  metrics(filter: {metadata: {field: "bucket", op: EQ, value: $bucket}}) {
    itemCount coco { ap ap50 ap75 apSmall apMedium apLarge ar1 ar10 ar100 arSmall arMedium arLarge }
  } } }"""
WHOLE_QUERY = """query($run: ID!) { modelRun(id: $run) { metrics {
  coco { ap ap50 ap75 apSmall apMedium apLarge ar1 ar10 ar100 arSmall arMedium arLarge } } } }"""
SMALL_QUERY = "query($id: ID!) { job(id: $id) { status progress } }"
COCO_ORDER = ("ap", "ap50", "ap75", "apSmall", "apMedium", "apLarge",
              "ar1", "ar10", "ar100", "arSmall", "arMedium", "arLarge")  # fmt: skip


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


async def upload(client: httpx.AsyncClient, gt: dict[str, Any], dts: list[dict[str, Any]]) -> str:
    images = sorted(gt["images"], key=lambda i: i["id"])
    ref = {img["id"]: str(img["id"]) for img in images}
    label = {c["id"]: c["name"] for c in gt["categories"]}
    created = await gql(
        client,
        'mutation { createDataset(input: {name: "coco"}) { ... on Dataset { id } ... on Error { message } } }',
        {},
    )
    dataset_id = payload_id(created, "createDataset")
    model = await gql(
        client,
        'mutation { createModel(input: {name: "m", referenceId: "m"}) { ... on Model { id } ... on Error { message } } }',
        {},
    )
    run = await gql(
        client,
        'mutation($m: ID!, $d: ID!) { createModelRun(input: {modelId: $m, datasetId: $d, name: "r"}) { ... on ModelRun { id } ... on Error { message } } }',
        {"m": payload_id(model, "createModel"), "d": dataset_id},
    )
    run_id = payload_id(run, "createModelRun")
    items = [
        {"referenceId": ref[i["id"]], "width": i["width"], "height": i["height"],
         "metadata": {"bucket": k % SLICE_BUCKETS}}
        for k, i in enumerate(images)
    ]  # fmt: skip
    annotations = [
        {"referenceId": ref[a["image_id"]], "annotationId": str(a["id"]), "label": label[a["category_id"]],
         "box": dict(zip(("x", "y", "width", "height"), a["bbox"], strict=True)),
         "area": a["area"], "iscrowd": bool(a["iscrowd"])}
        for a in gt["annotations"]
    ]  # fmt: skip
    predictions = [
        {"referenceId": ref[d["image_id"]], "annotationId": str(k), "label": label[d["category_id"]],
         "box": dict(zip(("x", "y", "width", "height"), d["bbox"], strict=True)), "confidence": d["score"]}
        for k, d in enumerate(dts)
    ]  # fmt: skip
    for field, arg, target, rows in (
        ("upsertItems", "items: $rows", dataset_id, items),
        ("upsertAnnotations", "annotations: $rows", dataset_id, annotations),
        ("upsertPredictions", "predictions: $rows", run_id, predictions),
    ):
        kind = {
            "upsertItems": "ItemInput",
            "upsertAnnotations": "AnnotationInput",
            "upsertPredictions": "PredictionInput",
        }[field]
        key = "modelRunId" if field == "upsertPredictions" else "datasetId"
        query = (
            f"mutation($id: ID!, $rows: [{kind}!]!) {{ {field}({key}: $id, {arg}) {{ {RESULT} }} }}"
        )
        for start in range(0, len(rows), BATCH):
            data = await gql(client, query, {"id": target, "rows": rows[start : start + BATCH]})
            if "new" not in data[field]:
                raise RuntimeError(f"{field}: {data[field]}")
    return run_id


async def evaluate_while_probing(
    client: httpx.AsyncClient, run_id: str
) -> tuple[float, list[float]]:
    started = time.perf_counter()
    data = await gql(
        client,
        "mutation($r: ID!) { calculateEvaluationMetrics(modelRunId: $r) { ... on Job { id } ... on Error { message } } }",
        {"r": run_id},
    )
    job_id = payload_id(data, "calculateEvaluationMetrics")
    latencies: list[float] = []
    while True:
        sent = time.perf_counter()
        job = (await gql(client, SMALL_QUERY, {"id": job_id}))["job"]
        latencies.append(time.perf_counter() - sent)
        if job["status"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            if job["status"] != "SUCCEEDED":
                raise RuntimeError(f"evaluation ended {job}")
            return time.perf_counter() - started, latencies
        await asyncio.sleep(max(0.0, 0.05 - (time.perf_counter() - sent)))


async def slice_latencies(
    url: str, run_id: str, clients: int, rounds: int
) -> tuple[list[float], dict[int, list[float]]]:
    latencies: list[float] = []
    answers: dict[int, list[float]] = {}

    async def client_loop(client: httpx.AsyncClient, k: int) -> None:
        for r in range(rounds):
            bucket = (k + r) % SLICE_BUCKETS
            sent = time.perf_counter()
            data = await gql(client, METRICS_QUERY, {"run": run_id, "bucket": bucket})
            latencies.append(time.perf_counter() - sent)
            coco = data["modelRun"]["metrics"]["coco"]
            answers[bucket] = [coco[name] for name in COCO_ORDER]

    # Every client exists before the first request: building an httpx client takes ~20 ms of
    # this process's event loop, which delayed the other clients' answers and was measured
    # as server latency.
    async with contextlib.AsyncExitStack() as stack:
        pool = [
            await stack.enter_async_context(httpx.AsyncClient(base_url=url, timeout=120))
            for _ in range(clients)
        ]
        await asyncio.gather(*(client_loop(client, k) for k, client in enumerate(pool)))
    return latencies, answers


def pycocotools_run(
    gt: dict[str, Any], dts: list[dict[str, Any]], image_ids: list[Any] | None = None
) -> tuple[np.ndarray, float]:
    from bench.pycoco import pycocotools_stats

    started = time.perf_counter()
    stats = pycocotools_stats(gt, dts, image_ids=image_ids)
    return stats, time.perf_counter() - started


def start_server(database_url: str, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT), SLICEBOARD_JOB_POLL_SECONDS="0.2")
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sliceboard.cli", "serve", "--port", str(port), "--database-url", database_url],
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


async def main_async(args: argparse.Namespace) -> int:
    gt = make_ground_truth(args.images, seed=7)
    dts = make_detections(gt, seed=8)
    print(
        f"case: {len(gt['images'])} items, {len(gt['annotations'])} ground truths, {len(dts)} predictions"
    )
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_server(f"sqlite+aiosqlite:///{tmp}/bench.db", Path(tmp) / "server.log")
        try:
            async with httpx.AsyncClient(base_url=url, timeout=600) as client:
                t0 = time.perf_counter()
                run_id = await upload(client, gt, dts)
                print(f"upload: {time.perf_counter() - t0:.1f} s")
                seconds, probes = await evaluate_while_probing(client, run_id)
                whole = await gql(client, WHOLE_QUERY, {"run": run_id})
                whole_stats = [whole["modelRun"]["metrics"]["coco"][n] for n in COCO_ORDER]
            latencies, answers = await slice_latencies(url, run_id, args.clients, args.rounds)
            rss = peak_rss_mb(proc.pid)
            worker_rss = sum(peak_rss_mb(pid) for pid in descendants(proc.pid))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    stats, peer_seconds = pycocotools_run(gt, dts)
    images = sorted(gt["images"], key=lambda i: i["id"])
    bucket_ids = [i["id"] for k, i in enumerate(images) if k % SLICE_BUCKETS == 3]
    slice_stats, _ = pycocotools_run(gt, dts, bucket_ids)
    diff = max(
        float(np.max(np.abs(np.asarray(answers[3]) - slice_stats))),
        float(np.max(np.abs(np.asarray(whole_stats) - stats))),
    )
    print(
        f"evaluation, mutation -> SUCCEEDED: {seconds:.2f} s "
        f"(pycocotools evaluate+accumulate+summarize in-process: {peer_seconds:.2f} s, "
        f"ratio {seconds / peer_seconds:.3f})"
    )
    print(
        f"small query every 50 ms during evaluation: n={len(probes)} "
        f"p50 {1000 * percentile(probes, 50):.1f} ms, p99 {1000 * percentile(probes, 99):.1f} ms (goal p99 < 100 ms)"
    )
    print(
        f"metrics over a 10% metadata slice, {args.clients} clients x {args.rounds}: "
        f"p50 {1000 * percentile(latencies, 50):.1f} ms, p95 {1000 * percentile(latencies, 95):.1f} ms (goal p95 < 100 ms); "
        f"mean {1000 * statistics.mean(latencies):.1f} ms"
    )
    print(f"run and slice metrics vs pycocotools on the same images: max |diff| = {diff:.2e}")
    print(
        f"server peak RSS: {rss:.0f} MB; its worker processes (evaluation, slice reports): "
        f"{worker_rss:.0f} MB more (the snapshot's shared pages count in both)"
    )
    return 0 if diff < 1e-12 else 1


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="500 items instead of 5,000")
    parser.add_argument("--images", type=int, default=None)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    if args.images is None:
        args.images = 500 if args.quick else 5_000
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
