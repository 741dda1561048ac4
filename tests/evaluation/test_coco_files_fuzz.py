"""Any damage to a valid pair of COCO files gives numbers or one clear line - never a traceback."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.cocogen import make_detections, make_ground_truth
from sliceboard.evaluate_coco import main

GT = make_ground_truth(4, seed=41)
DT_BBOX = make_detections(GT, seed=42)[:60]
DT_SEGM = make_detections(GT, seed=43, kind="segm")[:60]
GT_KP = make_ground_truth(4, seed=44, keypoints=True)
DT_KP = make_detections(GT_KP, seed=45, kind="keypoints")[:60]
CASES = {"bbox": (GT, DT_BBOX), "segm": (GT, DT_SEGM), "keypoints": (GT_KP, DT_KP)}

JUNK = st.sampled_from(
    [None, "x", "12", -1, 0, 2**70, 1.5, math.nan, math.inf, [], [1], [1, 2, 3, 4, 5], {}, {"counts": "x"},
     {"counts": [1, 2], "size": [1, 3]}, {"counts": "PP3", "size": [10, 10]}, True, [[1, 2, 3]], [["a"]]]
)  # fmt: skip
FIELDS = st.sampled_from(
    ["id", "image_id", "category_id", "bbox", "score", "area", "iscrowd", "segmentation",
     "keypoints", "num_keypoints", "width", "height"]
)  # fmt: skip


@st.composite
def damage(draw: st.DrawFn) -> tuple[str, str, int, str, Any, bool]:
    iou_type = draw(st.sampled_from(sorted(CASES)))
    target = draw(st.sampled_from(["gt", "dt", "images"]))
    index = draw(st.integers(0, 59))
    return iou_type, target, index, draw(FIELDS), draw(JUNK), draw(st.booleans())


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(case=damage())
def test_damaged_files_never_crash(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, case: tuple[str, str, int, str, Any, bool]
) -> None:
    iou_type, target, index, field, junk, delete = case
    gt, dt = copy.deepcopy(CASES[iou_type])
    objects = {"gt": gt["annotations"], "dt": dt, "images": gt["images"]}[target]
    obj = objects[index % len(objects)]
    if delete:
        obj.pop(field, None)
    else:
        obj[field] = junk
    gt_path = tmp_path / "gt.json"
    dt_path = tmp_path / "dt.json"
    gt_path.write_text(json.dumps(gt))
    dt_path.write_text(json.dumps(dt))
    code = main([str(gt_path), str(dt_path), "--iou-type", iou_type, "--json"])
    captured = capsys.readouterr()
    assert code in (0, 2)
    if code == 2:
        lines = captured.err.splitlines()
        assert len(lines) == 1
        assert lines[0].startswith((str(gt_path) + ": ", str(dt_path) + ": "))
    else:
        assert len(json.loads(captured.out)["stats"]) in (10, 12)
