"""The compiled OKS kernel against the numpy one: the same numbers (to the last bits of the
mean's summation) on pairs with and without labelled keypoints, and several layouts."""

from __future__ import annotations

import numpy as np
import pytest

from sliceboard.evaluation.geometry import native
from sliceboard.evaluation.geometry.keypoints import KeypointBatch, oks_similarity

pytestmark = pytest.mark.skipif(not native.enabled(), reason="the C module was not built")


def _batch(rng: np.random.Generator, sizes: list[int], hidden: float) -> KeypointBatch:
    total = sum(sizes)
    visibility = rng.choice([0.0, 1.0, 2.0], total, p=[hidden, (1 - hidden) / 2, (1 - hidden) / 2])
    return KeypointBatch(
        x=rng.uniform(0, 200, total),
        y=rng.uniform(0, 200, total),
        visibility=visibility,
        offsets=np.r_[0, np.cumsum(sizes)].astype(np.int64),
    )


@pytest.mark.parametrize("threaded", [False, True])
@pytest.mark.parametrize("layout", [[17], [17, 5, 0]])
def test_compiled_oks_equals_numpy(
    layout: list[int], threaded: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if threaded:  # the pairs split over two threads
        monkeypatch.setattr(native, "_THREAD_PAIRS", 10)
        monkeypatch.setattr("os.cpu_count", lambda: 2)
    rng = np.random.default_rng(3)
    n_gt, n_dt = 300, 500
    gt_sizes = [layout[i % len(layout)] for i in range(n_gt)]
    dt_sizes = [layout[i % len(layout)] for i in range(n_dt)]
    gt = _batch(rng, gt_sizes, hidden=0.6)
    gt.visibility[gt.offsets[0] : gt.offsets[40]] = 0  # ground truths with no labelled keypoint
    dt = _batch(rng, dt_sizes, hidden=0.0)
    area = rng.uniform(-5, 5000, n_gt)  # a negative area: exp overflows as in COCOeval
    bbox = np.c_[rng.uniform(0, 100, (n_gt, 2)), rng.uniform(1, 80, (n_gt, 2))]
    sigmas = rng.uniform(0.02, 0.1, int(gt.offsets[-1]))
    kernel = oks_similarity(dt, gt, area, bbox, sigmas)
    d = np.repeat(np.arange(n_dt), 3)
    g = (d + np.tile([0, len(layout), 2 * len(layout)], n_dt)) % n_gt  # same layout pairs
    crowd = np.zeros(d.shape[0], dtype=bool)
    with np.errstate(over="ignore"):
        compiled = kernel(d, g, crowd)
        before = native.set_enabled(False)
        try:
            reference = kernel(d, g, crowd)
        finally:
            native.set_enabled(before)
    assert np.isfinite(reference).sum() > len(d) // 2
    assert not np.array_equal(reference, np.zeros_like(reference))
    np.testing.assert_allclose(compiled, reference, rtol=1e-14, atol=0)
    assert np.array_equal(np.isnan(compiled), np.isnan(reference))


def test_interleaved_coco_rows_are_read_in_place() -> None:
    """Views of COCO rows [x, y, v, ...] (step 3) give the numbers of contiguous copies."""
    rng = np.random.default_rng(5)
    n_gt, n_dt = 60, 90
    gt_rows = np.c_[rng.uniform(0, 100, (n_gt, 34)), np.zeros((n_gt, 17))]
    gt_rows = gt_rows.reshape(n_gt, 3, 17).transpose(0, 2, 1).reshape(n_gt, 51).copy()
    gt_rows[:, 2::3] = rng.choice([0.0, 2.0], (n_gt, 17))
    dt_rows = rng.uniform(0, 100, (n_dt, 51))

    def batch(rows: np.ndarray, copy: bool) -> KeypointBatch:
        flat = rows.reshape(-1)
        parts = [flat[i::3].copy() if copy else flat[i::3] for i in range(3)]
        offsets = np.arange(rows.shape[0] + 1, dtype=np.int64) * 17
        return KeypointBatch(x=parts[0], y=parts[1], visibility=parts[2], offsets=offsets)

    area = rng.uniform(10, 3000, n_gt)
    bbox = np.c_[rng.uniform(0, 50, (n_gt, 2)), rng.uniform(5, 50, (n_gt, 2))]
    d = np.repeat(np.arange(n_dt), n_gt)
    g = np.tile(np.arange(n_gt), n_dt)
    crowd = np.zeros(d.shape[0], dtype=bool)
    in_place = oks_similarity(batch(dt_rows, False), batch(gt_rows, False), area, bbox)(d, g, crowd)
    copied = oks_similarity(batch(dt_rows, True), batch(gt_rows, True), area, bbox)(d, g, crowd)
    assert batch(dt_rows, False).x.strides == (24,)
    assert np.array_equal(in_place, copied) and (copied > 0.01).any()
