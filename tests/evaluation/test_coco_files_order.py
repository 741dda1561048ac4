"""`sliceboard evaluate-coco` ranks equal scores of different images by sorted image id, as
pycocotools does, whatever order the files list the images and detections in (issue 11 §9)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench.pycoco import pycocotools_stats
from sliceboard.evaluate_coco import main
from tests.support.json_files import write_json
from tests.support.upload_order import tied_case


def test_shuffled_files_give_pycocotools_numbers(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    case = tied_case(seed=21, n_images=100)
    rng = np.random.default_rng(4)
    images = [case.dataset["images"][int(k)] for k in rng.permutation(100)]
    rank = {image["id"]: k for k, image in enumerate(images)}
    gt = {**case.dataset, "images": images}
    detections = sorted(case.detections, key=lambda d: rank[d["image_id"]])
    assert [d["image_id"] for d in detections] != sorted(d["image_id"] for d in detections)

    code = main([str(write_json(tmp_path / "gt.json", gt)),
                 str(write_json(tmp_path / "dt.json", detections)), "--json"])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    stats = json.loads(captured.out)["stats"]
    np.testing.assert_allclose(stats, pycocotools_stats(gt, detections), rtol=0, atol=1e-12)
