"""COCO ground-truth and results JSON files as the evaluation engine's arrays.

    gt = load_ground_truth("instances_val2017.json", "bbox")
    dt = load_results("detections.json", gt)
    x = coco_inputs(gt, dt)
    table = evaluate(x.gt, x.dt, x.similarity, x.n_items, x.n_labels, x.options)

Every rule that decides parity with pycocotools' ``COCO()``/``loadRes``/``_prepare``
is applied here (see ground_truth.py and results.py); a file pycocotools would
crash on, or silently misread, raises :class:`CocoFileError` naming the object.
This package reads files and builds arrays; it imports nothing of the web stack.
"""

from sliceboard.cocofiles.coco_inputs import CocoInputs, coco_inputs
from sliceboard.cocofiles.errors import CocoFileError
from sliceboard.cocofiles.ground_truth import CocoGroundTruth, IouType, load_ground_truth
from sliceboard.cocofiles.results import CocoResults, EarlyResults, load_results, start_results

__all__ = [
    "CocoFileError",
    "CocoGroundTruth",
    "CocoInputs",
    "CocoResults",
    "EarlyResults",
    "IouType",
    "coco_inputs",
    "load_ground_truth",
    "load_results",
    "start_results",
]
