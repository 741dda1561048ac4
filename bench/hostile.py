"""Hostile documents against a real ``sliceboard serve``, and the event-loop lag they cause.

Seeds a dataset (``--items`` items with ``--per-item`` boxes as ground truth and as one run's
predictions), evaluates the run, then sends each document below while a thread probes
``/healthz`` every 10 ms. The probe's extra latency over an idle baseline is the time the
server's event loop was held. Prints, per document: its answer (status, error code, seconds)
and the probe's p99 and max lag.

    python -m bench.hostile [--items 100] [--per-item 40] [--database-url URL]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent


def nested_predictions(run: str, levels: int = 5) -> str:
    inner = "id"
    for _ in range(levels):
        inner = f'predictions(modelRunId: "{run}") {{ item {{ {inner} }} }}'
    return f'{{ dataset(name: "hostile") {{ items(first: 100) {{ edges {{ node {{ {inner} }} }} }} }} }}'


def aliased_curves(run: str, count: int = 30) -> str:
    fields = " ".join(
        f"m{i}: metrics(confidenceThreshold: {i / 100}) {{ precisionRecallCurve {{ recall precision confidence }} }}"
        for i in range(count)
    )
    return f'{{ modelRun(id: "{run}") {{ {fields} }} }}'


def item_page(run: str) -> str:
    geometry = "geometry { ... on Box { x y width height } }"
    return (
        '{ dataset(name: "hostile") { items(first: 100) { edges { node { referenceId metadata '
        f"annotations {{ annotationId label {geometry} }} "
        f'predictions(modelRunId: "{run}") {{ annotationId label confidence {geometry} }} }} }} }} }} }}'
    )


def affordable_metrics(run: str) -> str:
    report = "coco { ap ap50 } perLabel { label ap } confusionMatrix { labels counts }"
    return f'{{ modelRun(id: "{run}") {{ a: metrics {{ {report} }} b: metrics(iouThreshold: 0.75) {{ {report} }} }} }}'


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(database_url: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            *("-m", "sliceboard.cli", "serve", "--port", str(port)),
            "--database-url",
            database_url,
        ],
        cwd=ROOT,
        env={**os.environ, "SLICEBOARD_JOB_POLL_SECONDS": "0.1", **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return process, base
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("server did not start")


def post(
    base: str, query: str, variables: dict[str, Any] | None = None, timeout: float = 120
) -> Any:
    response = httpx.post(
        f"{base}/graphql", json={"query": query, "variables": variables or {}}, timeout=timeout
    )
    return response


def seed(base: str, items: int, per_item: int) -> str:
    def data(query: str, variables: dict[str, Any] | None = None) -> Any:
        body = post(base, query, variables).json()
        assert "errors" not in body, body
        return body["data"]

    dataset = data(
        'mutation { createDataset(input: {name: "hostile"}) { ... on Dataset { id } } }'
    )["createDataset"]["id"]
    data(
        "mutation($d: ID!, $i: [ItemInput!]!) { upsertItems(datasetId: $d, items: $i) { __typename } }",
        {"d": dataset, "i": [{"referenceId": f"r{i}", "metadata": {"i": i}} for i in range(items)]},
    )
    boxes = [
        {
            "referenceId": f"r{i}",
            "annotationId": f"a{j}",
            "label": f"l{j % 5}",
            "box": {"x": j * 3, "y": i % 7, "width": 2, "height": 2},
        }
        for i in range(items)
        for j in range(per_item)
    ]
    for start_at in range(0, len(boxes), 5000):
        data(
            "mutation($d: ID!, $a: [AnnotationInput!]!) { upsertAnnotations(datasetId: $d, annotations: $a) { __typename } }",
            {"d": dataset, "a": boxes[start_at : start_at + 5000]},
        )
    model = data(
        'mutation { createModel(input: {name: "m", referenceId: "m"}) { ... on Model { id } } }'
    )["createModel"]["id"]
    run = data(
        'mutation($m: ID!, $d: ID!) { createModelRun(input: {modelId: $m, datasetId: $d, name: "r"}) { ... on ModelRun { id } } }',
        {"m": model, "d": dataset},
    )["createModelRun"]["id"]
    predictions = [{**box, "confidence": (k % 97) / 97} for k, box in enumerate(boxes)]
    for start_at in range(0, len(predictions), 5000):
        data(
            "mutation($r: ID!, $p: [PredictionInput!]!) { upsertPredictions(modelRunId: $r, predictions: $p) { __typename } }",
            {"r": run, "p": predictions[start_at : start_at + 5000]},
        )
    job = data(
        "mutation($r: ID!) { calculateEvaluationMetrics(modelRunId: $r) { ... on Job { id } } }",
        {"r": run},
    )["calculateEvaluationMetrics"]["id"]
    for _ in range(1200):
        status = data("query($j: ID!) { job(id: $j) { status } }", {"j": job})["job"]["status"]
        if status in ("SUCCEEDED", "FAILED", "CANCELLED"):
            break
        time.sleep(0.1)
    assert status == "SUCCEEDED", status
    return str(run)


class Probe:
    """GET /healthz every 10 ms on its own thread; lag = latency above the idle baseline."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.latencies: list[float] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=600) as client:
            while not self.stop.is_set():
                started = time.perf_counter()
                client.get(f"{self.base}/healthz")
                self.latencies.append(time.perf_counter() - started)
                time.sleep(0.01)

    def __enter__(self) -> Probe:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join()


def p99(values: list[float]) -> float:
    return sorted(values)[max(0, int(len(values) * 0.99) - 1)] if values else 0.0


def fire(base: str, name: str, query: str, baseline: float) -> None:
    with Probe(base) as probe:
        started = time.perf_counter()
        response = post(base, query)
        seconds = time.perf_counter() - started
        time.sleep(0.05)
    try:
        body = response.json()
        errors = body.get("errors") or []
        code = (
            errors[0].get("extensions", {}).get("code", errors[0]["message"][:40])
            if errors
            else "ok"
        )
    except ValueError:
        code = "not json"
    lags = [max(0.0, latency - baseline) for latency in probe.latencies]
    print(
        f"{name:22} HTTP {response.status_code} {code:15} {seconds:6.2f} s "
        f"{len(response.content) / 1e6:7.2f} MB | loop lag p99 {p99(lags) * 1000:6.1f} ms "
        f"max {max(lags, default=0) * 1000:6.1f} ms ({len(lags)} probes)",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--per-item", type=int, default=40)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{tmp}/hostile.db"
        process, base = start(url, {})
        try:
            run = seed(base, args.items, args.per_item)
            with httpx.Client() as client:
                idle = []
                for _ in range(50):
                    started = time.perf_counter()
                    client.get(f"{base}/healthz")
                    idle.append(time.perf_counter() - started)
                    time.sleep(0.01)
            baseline = statistics.median(idle)
            print(
                f"{args.items} items x {args.per_item} boxes; idle /healthz {baseline * 1000:.1f} ms"
            )
            fire(base, "nested predictions x5", nested_predictions(run), baseline)
            fire(base, "30 aliased PR curves", aliased_curves(run), baseline)
            fire(base, "page of 100 items", item_page(run), baseline)
            fire(base, "two metrics reports", affordable_metrics(run), baseline)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
