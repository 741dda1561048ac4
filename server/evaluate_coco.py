"""``sliceboard evaluate-coco GT.json DETECTIONS.json --iou-type bbox|segm|keypoints [--json]``.

Evaluates COCO files with Sliceboard's engine and prints pycocotools' summary:
the 12 numbers for bbox/segm, 10 for keypoints, in pycocotools' order and format.
With ``--json``: ``{"stats": [...], "perCategory": [{"categoryId", "ap", "ap50",
"ap75", "ar100"}]}`` (for keypoints ``ar100`` is the recall at maxDets 20, also given as
``ar20``; -1 where a category has no ground truth, as pycocotools reports it).

A file that cannot be evaluated exits with code 2 after one line on stderr naming
the file and the object: ``dt.json: annotation 17 (image_id 42): image_id not in
ground truth``. Where the numbers knowingly differ from pycocotools' (a ground
truth with annotation id 0, which pycocotools cannot match), a ``warning:`` line
goes to stderr and the exit code stays 0. Only numpy, orjson and the engine are
imported: no web stack.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

# Before numpy is imported (it reads this once): no madvise(MADV_HUGEPAGE) on big arrays.
# The command allocates and frees hundreds of MB of short-lived arrays and forks; with
# transparent huge pages each of them faults in (and copies on write) 2 MB at a time:
# 50k bbox matching 3.6 -> 2.6 s in one process, the whole command ~0.5 s faster.
os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")
# No OpenBLAS thread pool: the command does no BLAS-sized work, and the pool's idle threads
# spin for a while after any call, taking ~5% of the CPU time of a segm run on 2 cores.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import orjson

from sliceboard.cocofiles import (
    CocoFileError,
    IouType,
    coco_inputs,
    load_ground_truth,
    load_results,
    start_results,
)
from sliceboard.cocofiles.columns import paused_gc
from sliceboard.cocofiles.forked_evaluate import evaluate_inputs
from sliceboard.evaluation import CocoSummary, coco_summary

EXIT_BAD_FILE = 2

# pycocotools' summarize() lines: (is AP, IoU or None for 0.50:0.95, area, maxDets).
_DETECTION_LINES = (
    (True, None, "all", 100), (True, 0.5, "all", 100), (True, 0.75, "all", 100),
    (True, None, "small", 100), (True, None, "medium", 100), (True, None, "large", 100),
    (False, None, "all", 1), (False, None, "all", 10), (False, None, "all", 100),
    (False, None, "small", 100), (False, None, "medium", 100), (False, None, "large", 100),
)  # fmt: skip
_KEYPOINT_LINES = tuple(
    (ap, iou, area, 20)
    for ap in (True, False)
    for iou, area in ((None, "all"), (0.5, "all"), (0.75, "all"), (None, "medium"), (None, "large"))
)


@dataclass(frozen=True)
class CocoReport:
    """What the command prints: the summary and the ground truth's category ids.

    ``summary.precision`` holds the largest maxDets only (``all_precision=False``).
    """

    iou_type: str
    summary: CocoSummary
    category_ids: list[int | str]
    warnings: tuple[str, ...] = ()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sliceboard evaluate-coco",
        description="Evaluate COCO detections against COCO ground truth (pycocotools' numbers).",
        epilog="Exit codes: 0 evaluated, 2 a file cannot be evaluated (one line on stderr "
        "names the file and the object).",
    )
    parser.add_argument("ground_truth", metavar="GT.json", help="COCO ground-truth file")
    parser.add_argument(
        "detections", metavar="DETECTIONS.json", help="COCO results file (a JSON array)"
    )
    parser.add_argument(
        "--iou-type",
        choices=("bbox", "segm", "keypoints"),
        default="bbox",
        help="box IoU, mask IoU or keypoint OKS (default: bbox)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print stats and per-category AP as JSON"
    )
    parser.add_argument(
        "--skip-unknown-categories",
        action="store_true",
        help="drop detections whose category is not in the ground truth (pycocotools does so "
        "silently) instead of rejecting the file",
    )
    return parser


def run(
    gt_path: str, dt_path: str, iou_type: IouType, *, skip_unknown_categories: bool = False
) -> CocoReport:
    """Loads, matches and summarises; raises CocoFileError for a bad file."""
    with paused_gc():
        # A child starts on the later part of a big results file while the ground truth is read.
        early = start_results(dt_path, iou_type)
        try:
            gt = load_ground_truth(gt_path, iou_type)
            dt = load_results(
                dt_path, gt, skip_unknown_categories=skip_unknown_categories, early=early
            )
        finally:
            if early is not None:
                early.cancel()
        inputs = coco_inputs(gt, dt)
        table = evaluate_inputs(inputs)
        # The output reads precision only at the largest maxDets (the AP lines, per-category
        # ap/ap50/ap75): the other maxDets' precision is not computed.
        summary = coco_summary(table, None, iou_type, all_precision=False)
    warnings = gt.warnings
    if dt.skipped:
        warnings += (
            f"{dt_path}: skipped {dt.skipped} detection(s) of categories not in the ground truth",
        )
    return CocoReport(iou_type, summary, list(gt.category_ids), warnings)


def format_lines(report: CocoReport) -> list[str]:
    """pycocotools' ``summarize()`` lines, character for character."""
    specs = _KEYPOINT_LINES if report.iou_type == "keypoints" else _DETECTION_LINES
    lines = []
    for (ap, iou, area, max_dets), value in zip(specs, report.summary.stats.tolist(), strict=True):
        title = "Average Precision" if ap else "Average Recall"
        kind = "(AP)" if ap else "(AR)"
        iou_text = "0.50:0.95" if iou is None else f"{iou:0.2f}"
        lines.append(
            f" {title:<18} {kind} @[ IoU={iou_text:<9} | area={area:>6s} | "
            f"maxDets={max_dets:>3d} ] = {value:0.3f}"
        )
    return lines


def as_json(report: CocoReport) -> dict[str, Any]:
    """``{"stats": [...], "perCategory": [...]}``, categories in ascending id order."""
    s = report.summary
    # "ar100" is the documented key for every iou type (clients read it); for keypoints it is
    # the recall at pycocotools' largest maxDets, 20, so "ar20" says the same value plainly.
    per_category = [
        {"categoryId": cid, "ap": ap, "ap50": ap50, "ap75": ap75, "ar100": ar}
        | ({"ar20": ar} if report.iou_type == "keypoints" else {})
        for cid, ap, ap50, ap75, ar in zip(
            report.category_ids,
            s.ap.tolist(),
            s.ap50.tolist(),
            s.ap75.tolist(),
            s.ar.tolist(),
            strict=True,
        )
    ]
    return {"stats": s.stats.tolist(), "perCategory": per_category}


def _keep_freed_memory() -> None:
    """glibc: arrays below 32 MB come from the heap and freed ones stay for reuse (the heap
    is trimmed only beyond 64 MB free), so the matcher's per-chunk temporaries do not
    fault in fresh pages every time. glibc's own dynamic threshold gets there or not
    depending on which big arrays happened to be freed first (5k segm matching took
    0.9 or 1.15 s with the early read's cut at 27% or 30% of the file)."""
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (AttributeError, OSError):  # not glibc: nothing to tune
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    mallopt(m_mmap_threshold, 32 << 20)
    mallopt(m_trim_threshold, 64 << 20)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    _keep_freed_memory()
    try:
        report = run(
            args.ground_truth,
            args.detections,
            cast(IouType, args.iou_type),
            skip_unknown_categories=args.skip_unknown_categories,
        )
    except CocoFileError as exc:
        print(exc.message, file=sys.stderr)
        return EXIT_BAD_FILE
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.json:
        sys.stdout.write(orjson.dumps(as_json(report)).decode() + "\n")
    else:
        sys.stdout.write("\n".join(format_lines(report)) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # The output is written: skip tearing down the interpreter and its arrays (~0.1 s).
    os._exit(code)
