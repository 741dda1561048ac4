"""Semantic segmentation benchmark: Cityscapes-sized label maps through the whole server.

    python bench/segmentation.py [--items 40] [--height 1024] [--width 2048] [--classes 19]

Generates ``--items`` ground-truth label maps (blocky regions of 19 classes plus the ignore
index 255, a few dozen runs per row, as real street scenes have) and predictions (the ground
truth shifted by a few pixels with some regions relabelled), encoded as 8-bit PNGs. Then, in
one run on the same masks:

* decode: our mask check (Pillow decode, size and index checks, run-length encoding), Mpixel/s;
* confusion: our per-item joint histogram on the stored run lengths, and torchmetrics'
  ``MulticlassConfusionMatrix`` updated image by image on the same labels as tensors (its
  input form; decoding excluded on both sides), Mpixel/s and the ratio;
* the server (``sliceboard serve`` on a fresh SQLite file): upload through GraphQL multipart
  requests, ``calculateEvaluationMetrics`` -> SUCCEEDED wall time, and the latency of
  ``metrics { segmentation { meanIou ... } }`` on ten different 10% slices (each the first
  query of its slice, so nothing is cached).

The pixel confusion from the server is checked equal to torchmetrics'. The issue's scale is
``--items 500`` (~1 Gpixel per side); the default is small.
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sliceboard.evaluation.pixel_confusion import joint_counts  # noqa: E402
from sliceboard.services.mask_decoding import decode_mask  # noqa: E402

IGNORE = 255
BATCH = 20


def label_maps(seed: int, height: int, width: int, classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(ground truth, prediction) of one image: uint8 indices 0..classes-1 and 255."""
    rng = np.random.default_rng(seed)
    cell = 64
    rows, cols = -(-height // cell), -(-width // cell)
    coarse = rng.integers(0, classes, size=(rows, cols)).astype(np.uint8)
    coarse[rng.random((rows, cols)) < 0.05] = IGNORE
    # irregular region widths: repeat each coarse column a random number of pixels
    widths = rng.integers(cell // 2, cell * 3 // 2, size=cols)
    cut = np.repeat(np.arange(cols), widths)
    if cut.shape[0] < width:
        cut = np.concatenate([cut, np.full(width - cut.shape[0], cols - 1)])
    gt = np.repeat(coarse, cell, axis=0)[:height][:, cut[:width]]
    wrong = coarse.copy()
    flip = rng.random((rows, cols)) < 0.1
    wrong[flip] = rng.integers(0, classes, size=int(flip.sum()))
    dt = np.repeat(wrong, cell, axis=0)[:height][:, cut[:width]]
    dt = np.roll(dt, (int(rng.integers(-4, 5)), int(rng.integers(-4, 5))), axis=(0, 1))
    dt[dt == IGNORE] = 0  # the model labels every pixel
    return np.ascontiguousarray(gt), np.ascontiguousarray(dt)


def png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def post(http: httpx.Client, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = http.post("/graphql", json={"query": query, "variables": variables})
    body = response.json()
    assert response.status_code == 200 and not body.get("errors"), body
    return dict(body["data"])


def upload(
    http: httpx.Client, query: str, target: str, rows: list[dict[str, Any]], files: list[bytes]
) -> None:
    operations = {"query": query, "variables": {"id": target, "rows": rows}}
    mapping = {str(k): [f"variables.rows.{k}.semanticSegmentation.mask"] for k in range(len(rows))}
    response = http.post(
        "/graphql",
        data={
            "operations": orjson.dumps(operations).decode(),
            "map": orjson.dumps(mapping).decode(),
        },
        files={str(k): (f"{k}.png", data, "image/png") for k, data in enumerate(files)},
        headers={"apollo-require-preflight": "true"},
    )
    body = response.json()
    assert response.status_code == 200 and not body.get("errors"), body
    result = next(iter(body["data"].values()))
    assert result.get("new") == len(rows), result


def start_server(database: Path) -> tuple[subprocess.Popen[bytes], str]:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "SLICEBOARD_JOB_POLL_SECONDS": "0.05", "SLICEBOARD_LOG_LEVEL": "WARNING"}
    process = subprocess.Popen(
        [sys.executable, "-m", "sliceboard.cli", "serve", "--port", str(port),
         "--database-url", f"sqlite+aiosqlite:///{database}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return process, base
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=40)
    parser.add_argument("--height", type=int, default=1024)
    parser.add_argument("--width", type=int, default=2048)
    parser.add_argument("--classes", type=int, default=19)
    args = parser.parse_args()
    n, h, w, classes = args.items, args.height, args.width, args.classes
    mpix = n * h * w / 1e6
    print(
        f"{n} items of {w}x{h}, {classes} classes: {mpix:,.0f} Mpixel per side (machine shared: compare ratios)"
    )

    started = time.perf_counter()
    gt_png, dt_png = [], []
    for k in range(n):
        gt, dt = label_maps(k, h, w, classes)
        gt_png.append(png(gt))
        dt_png.append(png(dt))
    size = sum(map(len, gt_png + dt_png)) / 2 / n / 1024
    print(f"generated and encoded in {time.perf_counter() - started:.1f} s ({size:.0f} KB per PNG)")

    declared = set(range(classes))
    started = time.perf_counter()
    gt_maps = [
        decode_mask(p, height=h, width=w, declared=declared, ignore_index=IGNORE).label_map
        for p in gt_png
    ]
    dt_maps = [
        decode_mask(p, height=h, width=w, declared=declared, ignore_index=IGNORE).label_map
        for p in dt_png
    ]
    decode = time.perf_counter() - started
    runs = sum(m.runs for m in gt_maps + dt_maps) / (2 * n * h)
    print(
        f"decode + check + run-length: {2 * mpix / decode:,.0f} Mpixel/s ({runs:.0f} runs per row)"
    )

    started = time.perf_counter()
    for g, d in zip(gt_maps, dt_maps, strict=True):
        joint_counts(g, d)
    ours = time.perf_counter() - started

    import torch
    from torchmetrics.classification import MulticlassConfusionMatrix

    torch.set_num_threads(2)
    metric = MulticlassConfusionMatrix(
        num_classes=classes, ignore_index=IGNORE, validate_args=False
    )
    theirs = 0.0
    for g, d in zip(gt_maps, dt_maps, strict=True):
        target = torch.from_numpy(g.to_array().astype(np.int64))
        preds = torch.from_numpy(d.to_array().astype(np.int64))
        tick = time.perf_counter()
        metric.update(preds, target)
        theirs += time.perf_counter() - tick
    tick = time.perf_counter()
    torch_confusion = metric.compute().numpy()
    theirs += time.perf_counter() - tick
    print(
        f"confusion: ours {mpix / ours:,.0f} Mpixel/s ({ours:.2f} s), torchmetrics "
        f"{mpix / theirs:,.0f} Mpixel/s ({theirs:.2f} s): {theirs / ours:.1f}x"
    )

    with tempfile.TemporaryDirectory() as folder:
        process, base = start_server(Path(folder) / "bench.db")
        try:
            with httpx.Client(base_url=base, timeout=120) as http:
                serve(http, n, h, w, classes, gt_png, dt_png, torch_confusion, theirs)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


def serve(
    http: httpx.Client,
    n: int,
    h: int,
    w: int,
    classes: int,
    gt_png: list[bytes],
    dt_png: list[bytes],
    torch_confusion: np.ndarray,
    torch_seconds: float,
) -> None:
    errors = "... on Error { message }"
    dataset = post(
        http,
        f'mutation {{ createDataset(input: {{name: "cityscapes", segmentationIgnoreIndex: {IGNORE}}}) {{ ... on Dataset {{ id }} {errors} }} }}',
        {},
    )["createDataset"]["id"]
    model = post(
        http,
        f'mutation {{ createModel(input: {{name: "m", referenceId: "m"}}) {{ ... on Model {{ id }} {errors} }} }}',
        {},
    )["createModel"]["id"]
    run = post(http, f'mutation($m: ID!, $d: ID!) {{ createModelRun(input: {{modelId: $m, datasetId: $d, name: "r"}}) {{ ... on ModelRun {{ id }} {errors} }} }}', {"m": model, "d": dataset})["createModelRun"]["id"]  # fmt: skip
    items = [
        {"referenceId": f"img{k:04d}", "width": w, "height": h, "metadata": {"bucket": k % 10}}
        for k in range(n)
    ]
    post(
        http,
        "mutation($d: ID!, $rows: [ItemInput!]!) { upsertItems(datasetId: $d, items: $rows) { __typename } }",
        {"d": dataset, "rows": items},
    )
    segments = [{"index": c, "label": f"class{c:02d}"} for c in range(classes)]
    started = time.perf_counter()
    for kind, field, target, pngs in (
        (
            "AnnotationInput",
            "upsertAnnotations(datasetId: $id, annotations: $rows)",
            dataset,
            gt_png,
        ),
        (
            "PredictionInput",
            "upsertPredictions(modelRunId: $id, predictions: $rows)",
            run,
            dt_png,
        ),
    ):
        query = f"mutation($id: ID!, $rows: [{kind}!]!) {{ {field} {{ ... on UpsertResult {{ new }} {errors} }} }}"
        for start in range(0, n, BATCH):
            rows = [
                {"referenceId": f"img{k:04d}", "annotationId": "mask", "semanticSegmentation": {"segments": segments, "mask": None}}
                for k in range(start, min(n, start + BATCH))
            ]  # fmt: skip
            upload(http, query, target, rows, pngs[start : start + BATCH])
    uploaded = time.perf_counter() - started
    print(
        f"upload of {2 * n} masks over GraphQL multipart: {uploaded:.1f} s ({2 * n * h * w / 1e6 / uploaded:,.0f} Mpixel/s)"
    )

    for attempt in ("first (starts the worker process)", "again (warm worker)"):
        started = time.perf_counter()
        job = post(http, f"mutation($r: ID!) {{ calculateEvaluationMetrics(modelRunId: $r) {{ ... on Job {{ id }} {errors} }} }}", {"r": run})["calculateEvaluationMetrics"]["id"]  # fmt: skip
        while True:
            status = post(http, "query($j: ID!) { job(id: $j) { status error } }", {"j": job})[
                "job"
            ]
            if status["status"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
                break
            time.sleep(0.02)
        evaluated = time.perf_counter() - started
        assert status["status"] == "SUCCEEDED", status
        timings = post(
            http, "query($r: ID!) { modelRun(id: $r) { evaluation { timings } } }", {"r": run}
        )["modelRun"]["evaluation"]["timings"]
        parts = ", ".join(f"{k.removesuffix('Seconds')} {v:.2f}" for k, v in timings.items())
        print(
            f"evaluation {attempt}: mutation -> SUCCEEDED {evaluated:.2f} s ({parts}); "
            f"torchmetrics' confusion alone {torch_seconds:.2f} s: {torch_seconds / evaluated:.1f}x"
        )

    query = """query($r: ID!, $f: ItemFilter) { modelRun(id: $r) { metrics(filter: $f) {
        segmentation { itemCount meanIou meanImageIou pixelAccuracy perLabel { iou } pixelConfusionMatrix { counts } } } } }"""
    whole = post(http, query, {"r": run, "f": None})["modelRun"]["metrics"]["segmentation"]
    counts = np.array(whole["pixelConfusionMatrix"]["counts"])
    assert (counts[:, :classes] == torch_confusion).all() and (counts[:, classes] == 0).all()
    print(
        f"whole run: meanIou {whole['meanIou']:.4f}, meanImageIou {whole['meanImageIou']:.4f} (confusion equal to torchmetrics')"
    )
    latencies = []
    for bucket in range(10):
        tick = time.perf_counter()
        sliced = post(
            http,
            query,
            {"r": run, "f": {"metadata": {"field": "bucket", "op": "EQ", "value": bucket}}},
        )
        latencies.append(time.perf_counter() - tick)
        assert sliced["modelRun"]["metrics"]["segmentation"]["itemCount"] == len(
            range(bucket, n, 10)
        )
    print(
        f"10% slice, first query of each: median {statistics.median(latencies) * 1e3:.1f} ms, max {max(latencies) * 1e3:.1f} ms"
    )


if __name__ == "__main__":
    main()
