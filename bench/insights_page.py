"""The Insights page in Chromium on a COCO-val-scale run, against the API it is built on.

    python bench/insights_page.py [--quick] [--images 5000] [--moves 20]

Starts ``sliceboard serve`` (SQLite), uploads bench/cocogen.py's case (5,000 items, ~36,000
ground-truth boxes, ~400,000 predictions; --quick: 500 items) through GraphQL, evaluates it,
then drives Debian's Chromium (Playwright; $SLICEBOARD_CHROMIUM or `chromium`) and measures:

1. the run page interactive: navigation until the AP, precision and recall are shown (and,
   separately, until the first gallery page is drawn);
2. a slider move to updated numbers: the confidence slider set to a new value until the
   TP/FP/FN that GraphQL gives at that value are shown (p50/p95 over --moves moves), and the
   same for the IoU slider over the 0.05 grid;
3. a gallery page of 48 items: "Next page" until the 48 examples are drawn (items carry no
   image, so no image bytes);
4. the page's JavaScript, gzipped.

Peer, measured in the same run: the GraphQL requests the page makes for the same view, sent
directly (httpx, one at a time), so each figure is also a ratio to the API's own time.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import os
import shutil
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
from bench.evaluate_run import evaluate_while_probing, start_server, upload  # noqa: E402

PAGE = ROOT / "server" / "web_dist"
THRESHOLD = """query($run: ID!, $iou: Float!, $confidence: Float!) { modelRun(id: $run) {
  metrics(iouThreshold: $iou, confidenceThreshold: $confidence) {
    perLabel { label ap ap50 ar precision recall f1 truePositives falsePositives falseNegatives }
    confusionMatrix { labels counts } } } }"""
GALLERY = """query($run: ID!, $after: String) { modelRun(id: $run) {
  predictions(filter: {outcome: FALSE_POSITIVE, confidenceRange: {min: 0}}, orderBy: CONFIDENCE_DESC,
              iouThreshold: 0.5, first: 48, after: $after) {
    pageInfo { endCursor } edges { node { id item { referenceId } } } } } }"""
ITEMS = """query($d: ID!, $run: ID!, $ids: [String!]!) { dataset(id: $d) {
  items(filter: {referenceIds: $ids}, first: 48) { edges { node { referenceId
    annotations { id geometry { __typename ... on Box { x y width height rotation } } }
    predictions(modelRunId: $run) { id confidence geometry { __typename ... on Box { x y width height rotation } } }
  } } } } }"""


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def post(base: str, query: str, variables: dict[str, Any]) -> tuple[dict[str, Any], float]:
    started = time.perf_counter()
    response = httpx.post(
        f"{base}/graphql", json={"query": query, "variables": variables}, timeout=120
    )
    elapsed = time.perf_counter() - started
    body = response.json()
    if body.get("errors"):
        raise RuntimeError(str(body["errors"])[:500])
    return body["data"], elapsed


def counts_text(data: dict[str, Any]) -> str:
    rows = data["modelRun"]["metrics"]["perLabel"]
    tp, fp, fn = (
        sum(r[k] for r in rows) for k in ("truePositives", "falsePositives", "falseNegatives")
    )
    return f"{tp:,} / {fp:,} / {fn:,}"


def bundle_gzip_kb() -> float:
    return sum(len(gzip.compress(p.read_bytes(), 9)) for p in (PAGE / "assets").glob("*.js")) / 1024


def measure(base: str, run: str, dataset: str, moves: int) -> None:
    from playwright.sync_api import sync_playwright

    chromium = os.environ.get("SLICEBOARD_CHROMIUM") or shutil.which("chromium")
    if not chromium:
        raise SystemExit("no Chromium: apt-get install chromium")
    confidences = [round(0.05 + 0.04 * k, 2) for k in range(moves)]
    ious = [round(0.05 * k, 2) for k in range(2, 19)]
    want_conf = {
        c: counts_text(post(base, THRESHOLD, {"run": run, "iou": 0.5, "confidence": c})[0])
        for c in confidences
    }
    want_iou = {
        i: counts_text(post(base, THRESHOLD, {"run": run, "iou": i, "confidence": 0.0})[0])
        for i in ious
    }
    # the peer: the same requests straight to the API, now that they are warm as for the page
    api_conf = [
        post(base, THRESHOLD, {"run": run, "iou": 0.5, "confidence": c})[1] for c in confidences
    ]
    first_page, _ = post(base, GALLERY, {"run": run, "after": None})
    cursor = first_page["modelRun"]["predictions"]["pageInfo"]["endCursor"]

    def api_gallery() -> float:
        data, spent = post(base, GALLERY, {"run": run, "after": cursor})
        ids = sorted(
            {e["node"]["item"]["referenceId"] for e in data["modelRun"]["predictions"]["edges"]}
        )
        return spent + post(base, ITEMS, {"d": dataset, "run": run, "ids": ids})[1]

    api_pages = [api_gallery() for _ in range(3)]

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        loads, galleries = [], []
        for _ in range(3):
            started = time.perf_counter()
            page.goto(f"{base}/runs/{run}")
            page.wait_for_function(
                "() => ['metric-ap', 'metric-precision', 'metric-recall'].every(t =>"
                " /\\d/.test(document.querySelector(`[data-testid=${t}]`)?.innerText ?? ''))"
            )
            loads.append(time.perf_counter() - started)
            page.get_by_test_id("example").first.wait_for()
            galleries.append(time.perf_counter() - started)
        slider = page.get_by_test_id("confidence-threshold")
        conf_moves = []
        for c in confidences:
            started = time.perf_counter()
            slider.fill(str(c))
            page.wait_for_function(
                "t => document.querySelector('[data-testid=metric-counts]').innerText === t",
                arg=want_conf[c],
                timeout=60_000,
            )
            conf_moves.append(time.perf_counter() - started)
        slider.fill("0")
        iou_slider = page.get_by_test_id("iou-threshold")
        iou_moves = []
        for i in ious:
            started = time.perf_counter()
            iou_slider.fill(str(i))
            page.wait_for_function(
                "t => document.querySelector('[data-testid=metric-counts]').innerText === t",
                arg=want_iou[i],
                timeout=60_000,
            )
            iou_moves.append(time.perf_counter() - started)
        page.goto(f"{base}/runs/{run}")
        page.get_by_test_id("example").first.wait_for()
        page_turns = []
        for _ in range(3):
            first = page.get_by_test_id("example").first.get_attribute("data-reference-id")
            started = time.perf_counter()
            page.get_by_role("button", name="Next page").click()
            page.wait_for_function(
                "f => { const e = document.querySelectorAll('[data-testid=example]');"
                " return e.length > 0 && e[0].dataset.referenceId !== f"
                " && document.querySelector('[data-testid=gallery]').getAttribute('aria-busy') === 'false'; }",
                arg=first, timeout=60_000,
            )  # fmt: skip
            page_turns.append(time.perf_counter() - started)
        browser.close()
    if errors:
        raise RuntimeError(f"page errors: {errors}")
    ms = lambda s: f"{1000 * s:.0f} ms"  # noqa: E731
    print(
        f"run page, navigation -> AP/precision/recall shown: median {ms(float(np.median(loads)))} (goal < 1 s); first gallery page drawn: median {ms(float(np.median(galleries)))}"
    )
    print(
        f"confidence slider move -> GraphQL's counts shown: p50 {ms(percentile(conf_moves, 50))}, p95 {ms(percentile(conf_moves, 95))} "
        f"(goal p95 < 150 ms); the same request straight to the API: p50 {ms(percentile(api_conf, 50))}, "
        f"ratio page/API at p50 {percentile(conf_moves, 50) / percentile(api_conf, 50):.2f}"
    )
    print(
        f"IoU slider move -> counts shown: p50 {ms(percentile(iou_moves, 50))}, p95 {ms(percentile(iou_moves, 95))}"
    )
    print(
        f"gallery page of 48 (no image bytes): median {ms(float(np.median(page_turns)))} (goal < 500 ms); "
        f"its two requests straight to the API: median {ms(float(np.median(api_pages)))}, ratio {np.median(page_turns) / np.median(api_pages):.2f}"
    )
    print(f"JavaScript gzipped: {bundle_gzip_kb():.1f} KB (goal < 500 KB)")


async def prepare(base: str, images: int) -> tuple[str, str]:
    gt = make_ground_truth(images, seed=7)
    dts = make_detections(gt, seed=8)
    print(
        f"case: {len(gt['images'])} items, {len(gt['annotations'])} ground truths, {len(dts)} predictions"
    )
    async with httpx.AsyncClient(base_url=base, timeout=600) as client:
        started = time.perf_counter()
        run = await upload(client, gt, dts)
        print(f"upload: {time.perf_counter() - started:.1f} s")
        seconds, _ = await evaluate_while_probing(client, run)
        print(f"evaluation: {seconds:.1f} s")
        data = (
            await client.post(
                "/graphql",
                json={
                    "query": "query($r: ID!) { modelRun(id: $r) { dataset { id } } }",
                    "variables": {"r": run},
                },
            )
        ).json()
    return run, data["data"]["modelRun"]["dataset"]["id"]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="500 items instead of 5,000")
    parser.add_argument("--images", type=int, default=None)
    parser.add_argument("--moves", type=int, default=20)
    args = parser.parse_args()
    images = args.images or (500 if args.quick else 5_000)
    if not (PAGE / "index.html").is_file():
        raise SystemExit("build the page first: cd web && npm ci && npm run build")
    with tempfile.TemporaryDirectory() as tmp:
        proc, base = start_server(f"sqlite+aiosqlite:///{tmp}/bench.db", Path(tmp) / "server.log")
        try:
            run, dataset = asyncio.run(prepare(base, images))
            measure(base, run, dataset, args.moves)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
