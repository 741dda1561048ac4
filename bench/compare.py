"""Run comparison benchmark: bootstrap intervals, the regression finder, and compareRuns.

    python bench/compare.py [--images 500] [--resamples 1000] [--groups 20] [--peer 3]
                            [--no-server] [--repeats 20]

Two runs of one synthetic COCO case (bench/cocogen.py: --images 5000 is the COCO-val-scale
case, ~36,000 ground truths and ~380,000 box predictions per run; the default 500 is quick):

1. engine: each run is matched once (as the evaluation job does) and its per-item bootstrap
   statistics are built; then, timed: paired per-label intervals of AP, AP50, AP75, precision,
   recall and F1 of both runs from ``--resamples`` resamples (the 1,000-resample AP@[.5:.95]
   intervals for every label); the regression finder over ``--groups`` random 10% item groups
   (200 resamples each, as ``regressions`` defaults).
2. peer, in the same process: the bootstrap as users run it today - pycocotools'
   evaluate + accumulate on a resampled dataset (images drawn with replacement, a repeated
   image added again under a new id), timed for ``--peer`` resamples; the ratio is per
   resample.
3. server (unless --no-server): both runs uploaded through the services into a SQLite file,
   evaluated by the job, then ``compareRuns`` (deltas with intervals, per label, transitions
   with false-positive pairing) through the GraphQL schema: the first (cold) call, then
   ``--repeats`` calls (p50/p95), as a dashboard repeating it sees them.

The machine is shared: compare ratios, and CPU seconds over wall seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.cocogen import make_detections, make_ground_truth  # noqa: E402
from sliceboard.evaluation import MatchTable, box_areas, box_similarity, evaluate  # noqa: E402
from sliceboard.evaluation.bootstrap import (  # noqa: E402
    metric_samples,
    overall_ap_samples,
    percentile_interval,
    resample_weights,
    restrict_statistics,
    run_statistics,
)
from sliceboard.evaluation.types import GroundTruth, Predictions  # noqa: E402


def timed(fn: Any) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def engine_table(gt: dict[str, Any], dets: list[dict[str, Any]]) -> MatchTable:
    """The case as engine arrays (items in image-id order, labels by category id)."""
    images = sorted(i["id"] for i in gt["images"])
    item_of = {img: k for k, img in enumerate(images)}
    cats = sorted(c["id"] for c in gt["categories"])
    label_of = {c: k for k, c in enumerate(cats)}
    anns = gt["annotations"]
    gt_boxes = np.array([a["bbox"] for a in anns], dtype=np.float64).reshape(-1, 4)
    dt_boxes = np.array([d["bbox"] for d in dets], dtype=np.float64).reshape(-1, 4)
    crowd = np.array([bool(a["iscrowd"]) for a in anns])
    ground_truth = GroundTruth.from_arrays(
        item=[item_of[a["image_id"]] for a in anns],
        label=[label_of[a["category_id"]] for a in anns],
        area=[a["area"] for a in anns],
        iscrowd=crowd,
        ignore=crowd,
    )
    predictions = Predictions.from_arrays(
        item=[item_of[d["image_id"]] for d in dets],
        label=[label_of[d["category_id"]] for d in dets],
        score=[d["score"] for d in dets],
        area=box_areas(dt_boxes),
    )
    return evaluate(
        ground_truth,
        predictions,
        box_similarity(dt_boxes, gt_boxes),
        len(images),
        len(cats),
    )


def peer_resample(
    gt: dict[str, Any], dets: list[dict[str, Any]], rng: np.random.Generator
) -> tuple[float, float]:
    """(wall, CPU) seconds pycocotools takes for one bootstrap resample (evaluate + accumulate)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images = gt["images"]
    drawn = rng.integers(0, len(images), len(images))
    by_image_gt: dict[int, list[dict[str, Any]]] = {}
    for a in gt["annotations"]:
        by_image_gt.setdefault(a["image_id"], []).append(a)
    by_image_dt: dict[int, list[dict[str, Any]]] = {}
    for d in dets:
        by_image_dt.setdefault(d["image_id"], []).append(d)
    new_images: list[dict[str, Any]] = []
    anns: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    for k in np.sort(drawn).tolist():
        image = images[k]
        new_id = len(new_images) + 1
        new_images.append({**image, "id": new_id})
        anns += [
            {**a, "id": len(anns) + j + 1, "image_id": new_id}
            for j, a in enumerate(by_image_gt.get(image["id"], []))
        ]
        results += [{**d, "image_id": new_id} for d in by_image_dt.get(image["id"], [])]
    start, cpu = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = {**gt, "images": new_images, "annotations": anns}
        coco.createIndex()
        ev = COCOeval(coco, coco.loadRes(results), "bbox")
        ev.evaluate()
        ev.accumulate()
    return time.perf_counter() - start, time.process_time() - cpu


def engine_part(
    args: argparse.Namespace, gt: dict[str, Any], runs: list[list[dict[str, Any]]]
) -> float:
    tables = []
    for k, dets in enumerate(runs):
        table, wall, _ = timed(lambda dets=dets: engine_table(gt, dets))
        print(f"  run {k}: {len(dets):,} predictions matched in {wall:.1f} s")
        tables.append(table)
    stats = []
    for table in tables:
        built, wall, cpu = timed(lambda table=table: run_statistics(table, 0.5, 0.0))
        stats.append(built)
        print(
            f"  bootstrap statistics built in {wall:.2f} s (cpu {cpu:.2f} s), once per evaluation"
        )
    n = tables[0].n_items
    weights = resample_weights(n, np.arange(n), args.resamples, 0)

    def paired() -> Any:
        base = metric_samples(stats[0], weights)
        cand = metric_samples(stats[1], weights)
        return {
            name: percentile_interval(cand.per_label[name] - base.per_label[name], 0.95)
            for name in base.per_label
        }

    _, wall, cpu = timed(lambda: metric_samples(stats[0], weights))
    print(
        f"  one run, {args.resamples} resamples, every metric of every label: "
        f"{wall:.2f} s wall, {cpu:.2f} s cpu"
    )
    _, paired_wall, paired_cpu = timed(paired)
    print(
        f"  paired (both runs, deltas per label): {paired_wall:.2f} s wall, {paired_cpu:.2f} s cpu"
    )
    rng = np.random.default_rng(1)
    groups = [rng.random(n) < 0.10 for _ in range(args.groups)]

    def regressions() -> list[float]:
        out = []
        for mask in groups:
            selected = np.flatnonzero(mask)
            w = np.vstack([mask[None, :].astype(np.float64), resample_weights(n, selected, 200, 0)])
            b = overall_ap_samples(restrict_statistics(stats[0], mask), w)
            c = overall_ap_samples(restrict_statistics(stats[1], mask), w)
            percentile_interval((c - b)[1:, None], 0.95, (c - b)[:1])
            out.append(float(c[0] - b[0]))
        return out

    _, reg_wall, reg_cpu = timed(regressions)
    print(
        f"  regression finder, {args.groups} groups of 10%, 200 paired resamples each: "
        f"{reg_wall:.2f} s wall, {reg_cpu:.2f} s cpu"
    )
    peer_times = [peer_resample(gt, runs[0], rng) for _ in range(args.peer)]
    peer_wall = statistics.mean(t[0] for t in peer_times)
    peer_cpu = statistics.mean(t[1] for t in peer_times)
    print(
        f"  peer: pycocotools evaluate+accumulate per resample {peer_wall:.2f} s wall, "
        f"{peer_cpu:.2f} s cpu (mean of {args.peer}); ours per resample (one run, every label) "
        f"{wall / args.resamples * 1000:.1f} ms wall, {cpu / args.resamples * 1000:.1f} ms cpu "
        f"-> {peer_wall / (wall / args.resamples):,.0f}x wall, "
        f"{peer_cpu / (cpu / args.resamples):,.0f}x cpu; {args.resamples} resamples with "
        f"pycocotools: ~{peer_cpu * args.resamples / 60:.0f} CPU minutes"
    )
    return wall


COMPARE = """query($runs: [ID!]!) { compareRuns(runIds: $runs, resamples: RESAMPLES) {
  candidates { overall { ap { delta low high pValue } ap50 { delta low high } recall { delta low high } }
    perLabel { label ap { delta low high pValue } }
    transitions { fixed broken stillMissed newFalsePositives removedFalsePositives } } } }"""


async def server_part(
    args: argparse.Namespace, gt: dict[str, Any], runs: list[list[dict[str, Any]]]
) -> None:
    from sliceboard.config import Settings
    from sliceboard.jobs.evaluate import run_evaluation_job
    from sliceboard.jobs.runner import JobRunner
    from sliceboard.runtime import Runtime
    from sliceboard.schema.context import Context
    from sliceboard.schema.schema import build_schema
    from sliceboard.services import catalog, uploads
    from sliceboard.services.evaluation import lifecycle
    from sliceboard.services.evaluation.options import EvaluationOptions
    from sliceboard.storage.db import transaction
    from sliceboard.storage.migrate import upgrade

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{folder}/compare.db"
        await asyncio.to_thread(upgrade, url)  # alembic runs its own event loop
        runtime = Runtime.create(Settings(database_url=url, run_jobs=False))
        try:
            key = {i["id"]: f"{i['id']:06d}" for i in gt["images"]}
            name = {c["id"]: str(c["id"]) for c in gt["categories"]}

            def box(o: dict[str, Any]) -> dict[str, float]:
                return dict(zip(("x", "y", "width", "height"), o["bbox"], strict=True))

            start = time.perf_counter()
            async with transaction(runtime.sessions) as session:
                dataset = await catalog.create_dataset(session, name="coco", metadata=None)
                await uploads.upsert_items(
                    session,
                    dataset_id=str(dataset.id),
                    items=[
                        {"reference_id": key[i["id"]], "metadata": {"bucket": i["id"] % 20}}
                        for i in gt["images"]
                    ],
                    update=False,
                    max_rows=10**7,
                )
                await uploads.upsert_annotations(
                    session,
                    dataset_id=str(dataset.id),
                    annotations=[
                        {
                            "reference_id": key[a["image_id"]],
                            "annotation_id": f"gt{a['id']}",
                            "label": name[a["category_id"]],
                            "box": box(a),
                            "area": a["area"],
                            "iscrowd": bool(a["iscrowd"]),
                        }
                        for a in gt["annotations"]
                    ],
                    update=False,
                    max_rows=10**7,
                )
            run_ids = []
            for k, dets in enumerate(runs):
                async with transaction(runtime.sessions) as session:
                    model = await catalog.create_model(
                        session, name=f"m{k}", reference_id=f"m{k}", metadata=None
                    )
                    run = await catalog.create_model_run(
                        session, model_id=str(model.id), dataset_id=str(dataset.id), name="r"
                    )
                    for lo in range(0, len(dets), 50_000):
                        await uploads.upsert_predictions(
                            session,
                            model_run_id=str(run.id),
                            predictions=[
                                {
                                    "reference_id": key[d["image_id"]],
                                    "annotation_id": f"dt{lo + j}",
                                    "label": name[d["category_id"]],
                                    "box": box(d),
                                    "confidence": d["score"],
                                }
                                for j, d in enumerate(dets[lo : lo + 50_000])
                            ],
                            update=False,
                            max_rows=10**7,
                        )
                    run_ids.append(str(run.id))
            print(f"  uploaded both runs in {time.perf_counter() - start:.0f} s")
            for run_id in run_ids:
                async with transaction(runtime.sessions) as session:
                    await lifecycle.request_evaluation(
                        session, model_run_id=run_id, options=EvaluationOptions(), max_attempts=1
                    )
                start = time.perf_counter()
                runner = JobRunner(runtime, handlers={"evaluate": run_evaluation_job})
                await runner.run_next()
                await runner.stop()
                print(f"  evaluated run {run_id} in {time.perf_counter() - start:.0f} s")
            schema = build_schema(Settings(database_url=url, run_jobs=False, max_query_cost=10_000))
            query = COMPARE.replace("RESAMPLES", str(args.resamples))

            async def once() -> float:
                began = time.perf_counter()
                result = await schema.execute(
                    query, variable_values={"runs": run_ids}, context_value=Context.create(runtime)
                )
                assert not result.errors, result.errors
                return time.perf_counter() - began

            cold = await once()
            warm = [await once() for _ in range(args.repeats)]
            warm.sort()
            p95 = warm[min(len(warm) - 1, round(0.95 * (len(warm) - 1)))]
            print(
                f"  compareRuns ({args.resamples} resamples, per label, transitions + FP pairing): "
                f"first call {cold:.2f} s; then p50 {statistics.median(warm) * 1000:.0f} ms, "
                f"p95 {p95 * 1000:.0f} ms over {args.repeats} calls (answered from the cache)"
            )
        finally:
            await runtime.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--groups", type=int, default=20)
    parser.add_argument("--peer", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--no-server", action="store_true")
    args = parser.parse_args()
    start = time.perf_counter()
    gt = make_ground_truth(args.images, seed=args.images)
    runs = [make_detections(gt, seed=args.images + k) for k in (1, 2)]
    print(
        f"case: {args.images} images, {len(gt['annotations']):,} ground truths, "
        f"{len(runs[0]):,} and {len(runs[1]):,} predictions "
        f"(generated in {time.perf_counter() - start:.0f} s)"
    )
    print("engine:")
    engine_part(args, gt, runs)
    if not args.no_server:
        print("server (SQLite, in-process):")
        asyncio.run(server_part(args, gt, runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
