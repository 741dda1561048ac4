"""Slice metrics benchmark: COCO summary + threshold metrics of random 10% item subsets.

    python bench/slice_metrics.py [--quick] [--repeats 20] [--no-peer] [--baseline GIT_REV]

Cases (bench/cocogen.py, generated once into bench/.data/ by bench/evaluate.py's
``ensure_case``): 5,000 images (~380k detections; what the server answers
ModelRun.metrics from) and 50,000 images (~3.8M detections). Each is matched once
by the engine, stored as an npz match table and loaded back, as the server does.
Then, for ``--repeats`` random 10% item masks: ``coco_summary(table, mask)`` and
``threshold_metrics(table, mask, 0.5, 0.3)``, median wall and CPU milliseconds.

Peers, timed in the same process on the same masks (the machine is shared, so
compare ratios): hotcoco's ``slice_by`` on an evaluated COCOeval (it recomputes the
overall numbers too), whose 12 stats are compared with ours; and, with
``--baseline REV``, this engine as of a git revision (e.g. the commit before a
change), loaded from ``git show`` into a temporary package, with its results
checked equal to ours. ``--quick`` uses 500 and 5,000 images.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.evaluate import _HOTCOCO_NAMES, ensure_case  # noqa: E402
from sliceboard.cocofiles import coco_inputs, load_ground_truth, load_results  # noqa: E402
from sliceboard.cocofiles.columns import paused_gc  # noqa: E402
from sliceboard.evaluation import MatchTable, coco_summary, evaluate, threshold_metrics  # noqa: E402

_SLICE = 0.10
_IOU, _CONFIDENCE = 0.5, 0.3


def _timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """(result, wall seconds, CPU seconds of this process)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def _measure(times: dict[str, list[float]], key: str, fn: Callable[[], Any]) -> Any:
    """Runs ``fn``, appending its wall and CPU seconds under ``key``."""
    result, wall, cpu = _timed(fn)
    times.setdefault(f"{key} wall", []).append(wall)
    times.setdefault(f"{key} cpu", []).append(cpu)
    return result


def _baseline_run(baseline: ModuleType, table: MatchTable, mask: np.ndarray) -> tuple[Any, Any]:
    old_threshold = sys.modules[f"{baseline.__name__}.threshold_metrics"]
    return (
        baseline.coco_metrics.coco_summary(table, mask, "bbox"),
        old_threshold.threshold_metrics(table, mask, _IOU, _CONFIDENCE),
    )


def _stored_table(paths: dict[str, Path], confusion: bool) -> tuple[MatchTable, list[Any], str]:
    """Matches the case once (cached as npz next to it) and loads the table back."""
    gt = load_ground_truth(str(paths["gt"]), "bbox")
    stored = paths["gt"].with_name(paths["gt"].stem + f"_slices_c{int(confusion)}.npz")
    note = "loaded"
    if not stored.exists():
        with paused_gc():
            inputs = coco_inputs(gt, load_results(str(paths["bbox"]), gt))
            start = time.perf_counter()
            table = evaluate(inputs.gt, inputs.dt, inputs.similarity, inputs.n_items,
                             inputs.n_labels, inputs.options, confusion=confusion)  # fmt: skip
            note = f"matched in {time.perf_counter() - start:.1f} s"
        partial = stored.with_suffix(".partial.npz")
        np.savez(partial, **table.to_arrays())  # type: ignore[arg-type]
        partial.replace(stored)
    with np.load(stored) as npz:
        table = MatchTable.from_arrays({k: npz[k] for k in npz.files})
    return table, list(gt.image_ids), note


def _baseline(rev: str) -> ModuleType:
    """sliceboard.evaluation as of ``rev``, importable as the package ``baseline_eval``."""
    files = subprocess.run(
        ["git", "ls-tree", "-r", "--name-only", rev, "server/evaluation"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    target = Path(tempfile.mkdtemp(prefix="slice_baseline_")) / "baseline_eval"
    for name in files:
        if not name.endswith(".py"):
            continue
        source = subprocess.run(
            ["git", "show", f"{rev}:{name}"], cwd=ROOT, check=True, capture_output=True, text=True
        ).stdout
        path = target / Path(name).relative_to("server/evaluation")
        path.parent.mkdir(parents=True, exist_ok=True)
        # the package was imported as server.evaluation before it installed as sliceboard
        for package in ("sliceboard.evaluation", "server.evaluation"):
            source = source.replace(package, "baseline_eval")
        path.write_text(source)
    sys.path.insert(0, str(target.parent))
    return importlib.import_module("baseline_eval")


def _same(ours: tuple[Any, Any], theirs: tuple[Any, Any]) -> bool:
    (summary, metrics), (summary_b, metrics_b) = ours, theirs
    same = all(
        np.array_equal(getattr(summary, f), getattr(summary_b, f))
        for f in ("stats", "precision", "recall", "ap", "ar")
    )
    for part in ("per_label", "pr_curve"):
        a, b = getattr(metrics, part), getattr(metrics_b, part)
        same &= all(np.array_equal(getattr(a, f), getattr(b, f)) for f in vars(a))
    return same and np.array_equal(metrics.confusion, metrics_b.confusion)


def _hotcoco(paths: dict[str, Path]) -> Any:
    import hotcoco

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = hotcoco.COCO(str(paths["gt"]))
        peer = hotcoco.COCOeval(coco_gt, coco_gt.load_res(str(paths["bbox"])), "bbox")
        peer.evaluate()
    return peer


def run_case(
    name: str, n_images: int, repeats: int, peer: bool, baseline: ModuleType | None
) -> None:
    paths = ensure_case(str(n_images), n_images, ["bbox"])
    confusion = n_images <= 5_000  # the server's tables carry the confusion pass
    table, image_ids, note = _stored_table(paths, confusion)
    print(f"\n{name}: {table.n_items} images, {table.dt_item.shape[0]} detections, "
          f"{table.gt_item.shape[0]} objects (table {note}; confusion pass: {confusion})")  # fmt: skip
    rng = np.random.default_rng(n_images)
    masks = [rng.random(table.n_items) < _SLICE for _ in range(repeats + 1)]

    def ours(mask: np.ndarray) -> tuple[Any, Any]:
        return (
            coco_summary(table, mask, "bbox"),
            threshold_metrics(table, mask, _IOU, _CONFIDENCE),
        )

    _, first, _ = _timed(lambda: ours(masks[0]))  # builds the table's lazy indexes
    hot = _hotcoco(paths) if peer else None
    times: dict[str, list[float]] = {}
    diffs: list[float] = []
    mismatches = 0
    for mask in masks[1:]:
        _measure(times, "coco_summary", partial(coco_summary, table, mask, "bbox"))
        _measure(
            times, "threshold_metrics", partial(threshold_metrics, table, mask, _IOU, _CONFIDENCE)
        )
        if baseline is not None:
            before = _measure(times, "baseline", partial(_baseline_run, baseline, table, mask))
            mismatches += not _same(ours(mask), before)
        if hot is not None:
            ids = [image_ids[i] for i in np.flatnonzero(mask).tolist()]
            with contextlib.redirect_stdout(io.StringIO()):
                sliced = _measure(times, "hotcoco", partial(hot.slice_by, {"slice": ids}))
            stats = coco_summary(table, mask, "bbox").stats
            diffs.append(
                max(abs(stats[i] - sliced["slice"][n]) for i, n in enumerate(_HOTCOCO_NAMES))
            )
    ms = {k: statistics.median(v) * 1000 for k, v in times.items()}
    wall = ms["coco_summary wall"] + ms["threshold_metrics wall"]
    cpu = ms["coco_summary cpu"] + ms["threshold_metrics cpu"]
    print(f"  random {_SLICE:.0%} of items, median of {repeats} masks (ms)      wall      cpu")
    for key in ("coco_summary", "threshold_metrics"):
        print(f"  {key + '(table, mask)':<46}{ms[key + ' wall']:>8.1f}{ms[key + ' cpu']:>9.1f}")
    print(f"  {'both':<46}{wall:>8.1f}{cpu:>9.1f}")
    print(f"  first slice of the loaded table (builds its indexes): {first * 1000:.0f} ms")
    if baseline is not None:
        print(f"  baseline engine, both: {ms['baseline wall']:>24.1f}{ms['baseline cpu']:>9.1f}"
              f"   speed-up {ms['baseline cpu'] / cpu:.2f}x (cpu), "
              f"results {'identical' if mismatches == 0 else f'DIFFER on {mismatches} masks'}")  # fmt: skip
    if hot is not None:
        coco_wall = ms["coco_summary wall"]
        print(f"  hotcoco slice_by (+ overall): {ms['hotcoco wall']:>17.1f}"
              f"            coco_summary ours/peer {coco_wall / ms['hotcoco wall']:.2f}"
              f"; max |stats - hotcoco's| {max(diffs):.1e}")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="500 and 5,000 images")
    parser.add_argument("--repeats", type=int, default=20, help="random masks per case")
    parser.add_argument("--no-peer", action="store_true", help="skip hotcoco")
    parser.add_argument("--baseline", metavar="GIT_REV", help="also time the engine at GIT_REV")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} "
          f"(shared machine: compare ratios measured in this run)")  # fmt: skip
    baseline = _baseline(args.baseline) if args.baseline else None
    sizes = (500, 5_000) if args.quick else (5_000, 50_000)
    for label, n_images in zip(("small case", "large case"), sizes, strict=True):
        run_case(f"{label} ({n_images} images)", n_images, args.repeats, not args.no_peer, baseline)
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
