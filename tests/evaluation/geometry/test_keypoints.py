"""OKS against pycocotools' own COCOeval.computeOks on random people."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from pycocotools.cocoeval import COCOeval

from sliceboard.evaluation.geometry.keypoints import (
    COCO_KEYPOINT_SIGMAS,
    KeypointBatch,
    oks_similarity,
)


def _reference_oks(
    gts: list[dict[str, Any]], dts: list[dict[str, Any]], sigmas: np.ndarray | None
) -> np.ndarray:
    """pycocotools' computeOks for one (image, category); dts keep their order."""
    evaluator = COCOeval(iouType="keypoints")
    if sigmas is not None:
        evaluator.params.kpt_oks_sigmas = sigmas
    evaluator._gts = {(1, 1): gts}
    evaluator._dts = {(1, 1): dts}
    evaluator.params.maxDets = [len(dts)]
    return np.asarray(evaluator.computeOks(1, 1))


def _random_case(rng: np.random.Generator, k: int, n_gt: int, n_dt: int):
    gts, dts = [], []
    for _ in range(n_gt):
        x, y = rng.uniform(0, 500, 2)
        w, h = rng.uniform(1, 200, 2)
        pts = np.stack(
            [rng.uniform(x, x + w, k), rng.uniform(y, y + h, k), rng.integers(0, 3, k)], 1
        )
        if rng.random() < 0.3:
            pts[:, 2] = 0  # nothing labelled: the box-distance rule
        area = 0.0 if rng.random() < 0.05 else float(rng.uniform(1, w * h))
        gts.append({"keypoints": pts.ravel().tolist(), "bbox": [x, y, w, h], "area": area})
    for j in range(n_dt):
        base = gts[rng.integers(n_gt)]["keypoints"]
        pts = np.asarray(base, float).reshape(k, 3)
        pts[:, :2] += rng.normal(0, rng.choice([1.0, 10.0, 300.0]), (k, 2))
        pts[:, 2] = 1
        dts.append({"keypoints": pts.ravel().tolist(), "score": 1.0 - j * 1e-3})
    return gts, dts


@pytest.mark.parametrize("k", [17, 5, 1])
def test_oks_matches_compute_oks(k: int) -> None:
    rng = np.random.default_rng(k)
    sigmas = None if k == 17 else rng.uniform(0.02, 0.2, k)
    for _ in range(60):
        n_gt, n_dt = (int(v) for v in rng.integers(1, 6, 2))
        gts, dts = _random_case(rng, k, n_gt, n_dt)
        expected = _reference_oks(gts, dts, sigmas)
        gt = KeypointBatch.from_coco([g["keypoints"] for g in gts])
        dt = KeypointBatch.from_coco([d["keypoints"] for d in dts])
        kernel = oks_similarity(
            dt, gt, [g["area"] for g in gts], [g["bbox"] for g in gts], sigmas=sigmas
        )
        d, g = (a.ravel() for a in np.meshgrid(np.arange(n_dt), np.arange(n_gt), indexing="ij"))
        ours = kernel(d, g, np.zeros(d.shape[0], bool)).reshape(n_dt, n_gt)
        np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-12)


def test_layouts_of_different_sizes_score_in_one_call() -> None:
    rng = np.random.default_rng(7)
    gts17, dts17 = _random_case(rng, 17, 3, 4)
    gts4, dts4 = _random_case(rng, 4, 2, 3)
    sig4 = np.array([0.05, 0.1, 0.07, 0.09])
    gt = KeypointBatch.from_coco([g["keypoints"] for g in gts17 + gts4])
    dt = KeypointBatch.from_coco([d["keypoints"] for d in dts17 + dts4])
    per_keypoint = np.concatenate([np.tile(COCO_KEYPOINT_SIGMAS, 3), np.tile(sig4, 2)])
    kernel = oks_similarity(
        dt,
        gt,
        [g["area"] for g in gts17 + gts4],
        [g["bbox"] for g in gts17 + gts4],
        sigmas=per_keypoint,
    )
    d17, g17 = (a.ravel() for a in np.meshgrid(np.arange(4), np.arange(3), indexing="ij"))
    d4, g4 = (a.ravel() for a in np.meshgrid(np.arange(3), np.arange(2), indexing="ij"))
    d = np.concatenate([d17, d4 + 4])
    g = np.concatenate([g17, g4 + 3])
    ours = kernel(d, g, np.zeros(d.shape[0], bool))
    expected = np.concatenate(
        [
            _reference_oks(gts17, dts17, None).ravel(),
            _reference_oks(gts4, dts4, sig4).ravel(),
        ]
    )
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-12)


def test_mismatched_keypoint_counts_are_rejected() -> None:
    gt = KeypointBatch.from_coco([[1.0, 1.0, 2.0] * 17])
    dt = KeypointBatch.from_coco([[1.0, 1.0, 2.0] * 4])
    kernel = oks_similarity(dt, gt, [10.0], [[0.0, 0.0, 5.0, 5.0]])
    with pytest.raises(ValueError, match="has 4 keypoints"):
        kernel(np.array([0]), np.array([0]), np.array([False]))


def test_default_sigmas_need_seventeen_keypoints() -> None:
    gt = KeypointBatch.from_coco([[1.0, 1.0, 2.0] * 4])
    with pytest.raises(ValueError, match="17 keypoints"):
        oks_similarity(gt, gt, [10.0], [[0.0, 0.0, 5.0, 5.0]])


def test_keypoint_lists_must_be_triples() -> None:
    with pytest.raises(ValueError, match="keypoints 1"):
        KeypointBatch.from_coco([[1.0, 2.0, 2.0], [1.0, 2.0]])


def test_labelled_count_is_num_keypoints() -> None:
    batch = KeypointBatch.from_coco([[0, 0, 0, 1, 1, 2, 3, 3, 1], [0, 0, 0]])
    assert batch.labelled_count().tolist() == [2, 0]
