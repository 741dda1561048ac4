"""Evaluation benchmark: whole processes, COCO JSON files in, the 12 numbers out.

    python bench/evaluate.py [--quick] [--runs 3] [--runs-10x 1]
                             [--peers pycocotools,faster-coco-eval,hotcoco]
                             [--peers-10x hotcoco,faster-coco-eval] [--no-segm] [--no-10x]
                             [--peers-shapes hotcoco] [--no-shapes] [--only-shapes]

Cases (generated once into bench/.data/, see bench/cocogen.py):
  5k   5,000 images, ~36,000 objects, ~378,000 detections: bbox and segm (polygon masks)
  50k  the same at 10x (bbox): pycocotools is left out by default (~8 min, ~16 GB);
       add it with --peers-10x pycocotools,hotcoco,faster-coco-eval
Shape variants of the 5k case (every input shape pycocotools accepts should stay on the
fast path; goal: ours/hotcoco <= 1.0 in wall time and peak RSS), against --peers-shapes:
  segm, results with bbox      the 5k segm case as it is
  segm, results without bbox   the same results without their boxes (area and box from the mask)
  segm, RLE ground truth       the ground truth's polygons as compressed RLE strings
  keypoints                    a person-keypoints case of the same size (17 keypoints)
For every tool: median wall time of N runs, CPU time, peak RSS, ours/peer ratios,
and the largest difference of every tool's stats from pycocotools' (or, without
pycocotools, from ours). Last, slice aggregation: COCO metrics of a random 10%
of the 50k case's images from its match table, without re-matching.
``--quick`` shrinks the cases tenfold (500 and 5,000 images) for a smoke run.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.cocogen import (  # noqa: E402
    make_detections,
    make_ground_truth,
    rle_ground_truth,
    without_boxes,
)
from bench.runner import OURS, PEER_SCRIPTS, Measurement, measure  # noqa: E402

DATA = ROOT / "bench" / ".data"
GENERATOR_VERSION = 1
CHUNK_IMAGES = 2000


def _write_detections(gt: dict[str, Any], path: Path, seed: int, kind: str) -> None:
    """Streams the results array chunk by chunk: the 50k case would not fit as dicts twice."""
    images = gt["images"]
    by_image: dict[Any, list[dict[str, Any]]] = {}
    for ann in gt["annotations"]:
        by_image.setdefault(ann["image_id"], []).append(ann)
    with open(path, "wb") as out:
        out.write(b"[")
        first = True
        for start in range(0, len(images), CHUNK_IMAGES):
            chunk_images = images[start : start + CHUNK_IMAGES]
            chunk = {
                "images": chunk_images,
                "categories": gt["categories"],
                "annotations": [a for img in chunk_images for a in by_image.get(img["id"], [])],
            }
            dets = make_detections(chunk, seed=seed * 100_003 + start, kind=kind)
            if dets:
                body = orjson.dumps(dets)[1:-1]
                out.write(body if first else b"," + body)
                first = False
        out.write(b"]")


def ensure_case(name: str, n_images: int, kinds: list[str]) -> dict[str, Path]:
    """Generates (once) the ground truth and one results file per kind; returns their paths."""
    DATA.mkdir(parents=True, exist_ok=True)
    stem = f"v{GENERATOR_VERSION}_{name}"
    paths = {"gt": DATA / f"{stem}_gt.json"} | {k: DATA / f"{stem}_{k}.json" for k in kinds}
    if all(p.exists() for p in paths.values()):
        return paths
    start = time.perf_counter()
    gt = make_ground_truth(n_images, seed=n_images)
    partial = {key: path.with_suffix(".partial") for key, path in paths.items()}
    partial["gt"].write_bytes(orjson.dumps(gt))
    for kind in kinds:
        _write_detections(gt, partial[kind], seed=n_images + 1, kind=kind)
    for key, path in partial.items():  # complete files only: an interrupted run starts over
        path.replace(paths[key])
    size = sum(p.stat().st_size for p in paths.values()) / 1e6
    print(f"  generated {name}: {len(gt['images'])} images, {len(gt['annotations'])} objects, "
          f"{size:.0f} MB in {time.perf_counter() - start:.0f} s")  # fmt: skip
    return paths


#: shape variants: name -> (ground truth key, results key, iou type) in ensure_shapes' paths
SHAPES = {
    "segm, results with bbox": ("gt", "segm", "segm"),
    "segm, results without bbox": ("gt", "segm_nobox", "segm"),
    "segm, RLE ground truth": ("gt_rle", "segm", "segm"),
    "keypoints": ("kp_gt", "keypoints", "keypoints"),
}


def _write_whole(path: Path, data: Any) -> None:
    partial = path.with_suffix(".partial")
    partial.write_bytes(orjson.dumps(data))
    partial.replace(path)


def ensure_shapes(name: str, n_images: int, case: dict[str, Path]) -> dict[str, Path]:
    """Generates (once) the files of the shape variants of a case (see :data:`SHAPES`)
    next to ``case`` (from :func:`ensure_case` with bbox and segm); returns every path."""
    stem = f"v{GENERATOR_VERSION}_{name}"
    paths = dict(case) | {
        "segm_nobox": DATA / f"{stem}_segm_nobox.json",
        "gt_rle": DATA / f"{stem}_gt_rle.json",
        "kp_gt": DATA / f"{stem}_kp_gt.json",
        "keypoints": DATA / f"{stem}_keypoints.json",
    }
    start = time.perf_counter()
    made = [key for key in ("segm_nobox", "gt_rle", "kp_gt") if not paths[key].exists()]
    if "segm_nobox" in made:
        _write_whole(paths["segm_nobox"], without_boxes(orjson.loads(case["segm"].read_bytes())))
    if "gt_rle" in made:
        _write_whole(paths["gt_rle"], rle_ground_truth(orjson.loads(case["gt"].read_bytes())))
    if "kp_gt" in made or not paths["keypoints"].exists():
        gt = make_ground_truth(n_images, seed=n_images + 2, keypoints=True)
        partial = paths["keypoints"].with_suffix(".partial")
        _write_detections(gt, partial, seed=n_images + 3, kind="keypoints")
        partial.replace(paths["keypoints"])
        _write_whole(paths["kp_gt"], gt)
    if made:
        print(f"  generated shape variants of {name}: {', '.join(made)} "
              f"in {time.perf_counter() - start:.0f} s")  # fmt: skip
    return paths


def _detections_count(path: Path) -> int:
    return len(orjson.loads(path.read_bytes()))


def in_child(fn: Any, *args: Any) -> Any:
    """Runs ``fn`` in a fresh process: a child forked from a bench process that had held a
    case in memory would report that memory as its own peak RSS."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(fn, args)


def report_case(title: str, results: dict[str, Measurement]) -> None:
    ours = results[OURS]
    reference = results.get("pycocotools", ours)
    ref_name = "pycocotools" if "pycocotools" in results else OURS
    print(f"\n{title}")
    print(f"  {'tool':<17}{'wall s':>8}{'cpu s':>8}{'peak MB':>9}{'wall ours/peer':>16}"
          f"{'RSS ours/peer':>15}{'max |stats - ' + ref_name + '|':>30}")  # fmt: skip
    for tool, m in results.items():
        diff = float(np.max(np.abs(np.array(m.stats) - np.array(reference.stats))))
        ratio_wall = "" if tool == OURS else f"{ours.wall / m.wall:.2f}"
        ratio_rss = "" if tool == OURS else f"{ours.peak_rss_mb / m.peak_rss_mb:.2f}"
        print(f"  {tool:<17}{m.wall:>8.2f}{m.cpu:>8.2f}{m.peak_rss_mb:>9.0f}{ratio_wall:>16}"
              f"{ratio_rss:>15}{diff:>30.2e}")  # fmt: skip
    if ref_name == "pycocotools":
        diff = float(np.max(np.abs(np.array(ours.stats) - np.array(reference.stats))))
        verdict = "OK" if diff <= 1e-12 else "MISMATCH"
        print(f"  parity with pycocotools: max |diff| = {diff:.2e} ({verdict}, tolerance 1e-12)")


def run_case(
    paths: dict[str, Path], kind: str, tools: list[str], runs: int
) -> dict[str, Measurement]:
    results: dict[str, Measurement] = {}
    for tool in [OURS, *tools]:
        results[tool] = measure(tool, paths["gt"], paths[kind], kind, runs)
        m = results[tool]
        print(f"    {tool:<17} wall {m.wall:7.2f} s  peak {m.peak_rss_mb:6.0f} MB", flush=True)
    return results


_HOTCOCO_NAMES = (
    "AP",
    "AP50",
    "AP75",
    "APs",
    "APm",
    "APl",
    "AR1",
    "AR10",
    "AR100",
    "ARs",
    "ARm",
    "ARl",
)


def slice_aggregation(paths: dict[str, Path], repeats: int) -> None:
    """COCO metrics of random 10% item subsets from a stored match table (no re-matching).

    The peer is hotcoco's ``slice_by`` on an evaluated COCOeval (it also recomputes
    the overall numbers); the slice's stats of both are compared.
    """
    import contextlib
    import io

    import hotcoco

    from sliceboard.cocofiles import coco_inputs, load_ground_truth, load_results
    from sliceboard.cocofiles.columns import paused_gc
    from sliceboard.evaluation import MatchTable, coco_summary, evaluate

    with paused_gc():
        gt = load_ground_truth(str(paths["gt"]), "bbox")
        dt = load_results(str(paths["bbox"]), gt)
        inputs = coco_inputs(gt, dt)
        start = time.perf_counter()
        table = evaluate(inputs.gt, inputs.dt, inputs.similarity, inputs.n_items, inputs.n_labels,
                         inputs.options, confusion=False)  # fmt: skip
        match_seconds = time.perf_counter() - start
    stored = paths["gt"].with_name(paths["gt"].stem + "_table.npz")
    np.savez(stored, **table.to_arrays())  # type: ignore[arg-type]
    start = time.perf_counter()
    with np.load(stored) as npz:
        table = MatchTable.from_arrays({k: npz[k] for k in npz.files})
    load_seconds = time.perf_counter() - start

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = hotcoco.COCO(str(paths["gt"]))
        peer = hotcoco.COCOeval(coco_gt, coco_gt.load_res(str(paths["bbox"])), "bbox")
        peer.evaluate()
    rng = np.random.default_rng(0)
    ours, theirs, diffs = [], [], []
    for _ in range(repeats):
        mask = rng.random(inputs.n_items) < 0.10
        start = time.perf_counter()
        # the 12 numbers read precision at the last maxDets only, as the server's reports do
        summary = coco_summary(table, mask, "bbox", all_precision=False)
        ours.append(time.perf_counter() - start)
        image_ids = [gt.image_ids[i] for i in np.flatnonzero(mask).tolist()]
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            sliced = peer.slice_by({"slice": image_ids})["slice"]  # type: ignore[dict-item]
        theirs.append(time.perf_counter() - start)
        diffs.append(
            max(abs(summary.stats[i] - sliced[name]) for i, name in enumerate(_HOTCOCO_NAMES))
        )
    mine, peer_s = statistics.median(ours), statistics.median(theirs)
    print(f"\nslice aggregation on the {inputs.n_items}-image case ({len(dt)} detections), "
          f"random 10% of items, median of {repeats} subsets:")  # fmt: skip
    print(f"  sliceboard coco_summary(table, mask): {mine * 1000:7.1f} ms (goal < 100 ms)")
    print(
        f"  hotcoco slice_by (+ overall):         {peer_s * 1000:7.1f} ms   ours/peer {mine / peer_s:.2f}"
    )
    print(f"  max |slice stats - hotcoco's|: {max(diffs):.2e}")
    print(f"  stored table: {stored.stat().st_size / 1e6:.0f} MB npz, loaded in {load_seconds:.2f} s; "
          f"matching the whole case once took {match_seconds:.2f} s")  # fmt: skip


def run_shapes(
    paths: dict[str, Path], tools: list[str], runs: int, done: dict[str, dict[str, Measurement]]
) -> None:
    """Every shape variant against ``tools``; ``done``: measurements already taken, by
    results key (the plain segm case of the main run is not run again)."""
    table: dict[str, dict[str, Measurement]] = {}
    for shape, (gt_key, dt_key, iou_type) in SHAPES.items():
        earlier = done.get(dt_key, {}) if gt_key == "gt" else {}
        print(f"\n  shape variant: {shape} ({runs} run(s) per tool)", flush=True)
        results: dict[str, Measurement] = {}
        for tool in [OURS, *tools]:
            if tool in earlier:
                results[tool] = earlier[tool]
            else:
                results[tool] = measure(tool, paths[gt_key], paths[dt_key], iou_type, runs)
            m = results[tool]
            print(f"    {tool:<17} wall {m.wall:7.2f} s  peak {m.peak_rss_mb:6.0f} MB", flush=True)
        table[shape] = results
    print(
        f"\nshape variants, median of {runs} (goal: ours/peer <= 1.00 in wall time and peak RSS):"
    )
    print(f"  {'variant':<28}{'peer':<13}{'ours s':>7}{'peer s':>8}{'wall o/p':>9}{'ours MB':>8}"
          f"{'peer MB':>8}{'RSS o/p':>8}{'max |stats diff|':>18}  verdict")  # fmt: skip
    for shape, results in table.items():
        ours = results[OURS]
        for tool in tools:
            m = results[tool]
            wall, rss = ours.wall / m.wall, ours.peak_rss_mb / m.peak_rss_mb
            diff = float(np.max(np.abs(np.array(ours.stats) - np.array(m.stats))))
            verdict = "OK" if wall <= 1.0 and rss <= 1.0 else "SLOWER" if wall > 1.0 else "LARGER"
            if wall > 1.0 and rss > 1.0:
                verdict = "SLOWER, LARGER"
            print(f"  {shape:<28}{tool:<13}{ours.wall:>7.2f}{m.wall:>8.2f}{wall:>9.2f}"
                  f"{ours.peak_rss_mb:>8.0f}{m.peak_rss_mb:>8.0f}{rss:>8.2f}{diff:>18.2e}"
                  f"  {verdict}")  # fmt: skip


def _tools(text: str) -> list[str]:
    tools = [t for t in text.split(",") if t]
    unknown = set(tools) - set(PEER_SCRIPTS)
    if unknown:
        raise SystemExit(f"unknown peer(s) {sorted(unknown)}; known: {sorted(PEER_SCRIPTS)}")
    return tools


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="10x smaller cases (500 / 5,000 images)"
    )
    parser.add_argument("--runs", type=int, default=3, help="runs per tool on the 5k case (median)")
    parser.add_argument("--runs-10x", type=int, default=1, help="runs per tool on the 50k case")
    parser.add_argument("--peers", default="pycocotools,faster-coco-eval,hotcoco")
    parser.add_argument("--peers-10x", default="hotcoco,faster-coco-eval")
    parser.add_argument("--no-segm", action="store_true")
    parser.add_argument("--no-10x", action="store_true")
    parser.add_argument("--peers-shapes", default="hotcoco", help="peers of the shape variants")
    parser.add_argument("--no-shapes", action="store_true", help="skip the shape variants")
    parser.add_argument(
        "--only-shapes", action="store_true", help="the shape variants only (no main cases)"
    )
    parser.add_argument("--slice-repeats", type=int, default=7)
    args = parser.parse_args()
    peers, peers_10x = _tools(args.peers), _tools(args.peers_10x)
    peers_shapes = _tools(args.peers_shapes)
    small, large = (500, 5_000) if args.quick else (5_000, 50_000)
    kinds = ["bbox"] if args.no_segm and args.no_shapes else ["bbox", "segm"]

    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} "
          f"(other processes share the machine: compare ratios, not times)")  # fmt: skip
    case = in_child(ensure_case, f"{small}", small, kinds)
    n_dt = in_child(_detections_count, case["bbox"])
    done: dict[str, dict[str, Measurement]] = {}
    for kind in [] if args.only_shapes else kinds:
        if kind == "segm" and args.no_segm:
            continue
        print(
            f"\n  running {small} images, {kind} ({n_dt} detections), {args.runs} run(s) per tool"
        )
        results = run_case(case, kind, peers, args.runs)
        done[kind] = results
        report_case(f"{small} images, {kind}, median of {args.runs}:", results)
    if not args.no_shapes:
        shapes = in_child(ensure_shapes, f"{small}", small, case)
        run_shapes(shapes, peers_shapes, args.runs, done)
    if not args.no_10x and not args.only_shapes:
        big = in_child(ensure_case, f"{large}", large, ["bbox"])
        print(f"\n  running {large} images, bbox, {args.runs_10x} run(s) per tool")
        results = run_case(big, "bbox", peers_10x, args.runs_10x)
        report_case(f"{large} images, bbox, median of {args.runs_10x}:", results)
        slice_aggregation(big, args.slice_repeats)
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
