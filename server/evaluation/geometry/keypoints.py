"""Object keypoint similarity (OKS), exactly as pycocotools' ``COCOeval.computeOks``.

For a prediction d and a ground truth g with k keypoints, per-keypoint error

    e_i = (dx_i**2 + dy_i**2) / (2 * sigma_i)**2 / (area_g + eps) / 2

and OKS = mean(exp(-e_i)) over g's labelled keypoints (visibility > 0). When g
has no labelled keypoint, dx, dy are the distances of each predicted keypoint
outside g's box grown by one box size on every side, and the mean runs over all
k. The operations are pycocotools' in the same order, so each e_i is
bit-identical; the mean can differ in the last bit (summation order), far
inside the 1e-12 parity tolerance. The compiled kernel (``native.oks``, one pass
per pair instead of a dozen numpy temporaries) makes the same operations; the
numpy path is used without it.

Keypoint counts may differ between labels: keypoints are stored flat with
offsets, and pairs are scored in one numpy pass per distinct k. Crowd does not
change OKS (pycocotools ignores it there), so ``gt_crowd`` is accepted and unused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from sliceboard.evaluation.geometry import native
from sliceboard.evaluation.geometry.kernel import (
    BoolArray,
    FloatArray,
    IndexArray,
    Similarity,
    check_pairs,
    chunks,
    segment_ids,
)

COCO_KEYPOINT_SIGMAS: NDArray[np.float64] = (
    np.array(
        [
            0.26,
            0.25,
            0.25,
            0.35,
            0.35,
            0.79,
            0.79,
            0.72,
            0.72,
            0.62,
            0.62,
            1.07,
            1.07,
            0.87,
            0.87,
            0.89,
            0.89,
        ]
    )
    / 10.0
)
"""pycocotools' default per-keypoint sigmas for COCO's 17 person keypoints, float64 (17,)."""


@dataclass(frozen=True, eq=False)
class KeypointBatch:
    """n keypoint sets, concatenated.

    Attributes:
        x: float64 (K,) x of every keypoint of every set.
        y: float64 (K,) y.
        visibility: float64 (K,) COCO visibility (0 unlabelled, 1 occluded, 2 visible).
        offsets: int64 (n+1,); set i owns keypoints ``offsets[i]:offsets[i+1]``.
    """

    x: NDArray[np.float64]
    y: NDArray[np.float64]
    visibility: NDArray[np.float64]
    offsets: NDArray[np.int64]

    @classmethod
    def from_coco(cls, keypoints: Sequence[Sequence[float]]) -> KeypointBatch:
        """From COCO's flat lists ``[x1, y1, v1, x2, y2, v2, ...]``, one per set.

        Raises:
            ValueError: a list whose length is not a multiple of 3.
        """
        arrays = [np.asarray(k, dtype=np.float64).reshape(-1) for k in keypoints]
        for i, a in enumerate(arrays):
            if a.shape[0] % 3:
                raise ValueError(f"keypoints {i}: length {a.shape[0]} is not a multiple of 3")
        flat = np.concatenate(arrays) if arrays else np.zeros(0)
        lengths = np.fromiter((a.shape[0] // 3 for a in arrays), np.int64, count=len(arrays))
        return cls(
            x=flat[0::3].copy(),
            y=flat[1::3].copy(),
            visibility=flat[2::3].copy(),
            offsets=np.r_[0, np.cumsum(lengths)].astype(np.int64),
        )

    def __len__(self) -> int:
        return int(self.offsets.shape[0] - 1)

    @property
    def sizes(self) -> NDArray[np.int64]:
        """int64 (n,) keypoints per set."""
        return np.diff(self.offsets)

    def labelled_count(self) -> NDArray[np.int64]:
        """int64 (n,) keypoints with visibility > 0 per set (COCO's ``num_keypoints``)."""
        owner = segment_ids(self.sizes)
        return np.bincount(owner[self.visibility > 0], minlength=len(self)).astype(np.int64)


def _gt_sigmas(gt: KeypointBatch, sigmas: ArrayLike | None) -> NDArray[np.float64]:
    """Per-keypoint sigmas aligned with ``gt``'s flat keypoints, float64 (K,)."""
    sizes = gt.sizes
    total = int(gt.offsets[-1])
    if sigmas is None:
        if np.any(sizes != COCO_KEYPOINT_SIGMAS.shape[0]):
            raise ValueError("default COCO sigmas need 17 keypoints per ground truth; pass sigmas")
        return np.tile(COCO_KEYPOINT_SIGMAS, len(gt))
    s = np.asarray(sigmas, dtype=np.float64).reshape(-1)
    if s.shape[0] == total:
        return s
    if len(gt) and np.all(sizes == s.shape[0]):
        return np.tile(s, len(gt))
    raise ValueError(
        f"sigmas must hold one value per ground-truth keypoint ({total}) "
        "or one per keypoint of a shared layout"
    )


def oks_similarity(
    dt: KeypointBatch,
    gt: KeypointBatch,
    gt_area: ArrayLike,
    gt_bbox: ArrayLike,
    sigmas: ArrayLike | None = None,
) -> Similarity:
    """Builds the OKS kernel over predictions dt (D,) and ground truths gt (G,).

    Args:
        dt: predicted keypoint sets (D,); visibility is not used.
        gt: ground-truth keypoint sets (G,).
        gt_area: float64 (G,) COCO ``area`` of each ground truth.
        gt_bbox: float64 (G, 4) COCO ``bbox`` [x, y, w, h] of each ground truth.
        sigmas: None for COCO's 17 sigmas; float64 (K_gt,) one per ground-truth
            keypoint (so labels may have their own layouts); or (k,) shared by
            all ground truths when they all have k keypoints.

    Returns:
        The kernel; it raises ValueError for a pair whose keypoint counts differ.
    """
    area = np.asarray(gt_area, dtype=np.float64).reshape(-1)
    bbox = np.asarray(gt_bbox, dtype=np.float64).reshape(-1, 4)
    if area.shape[0] != len(gt) or bbox.shape[0] != len(gt):
        raise ValueError("gt_area and gt_bbox need one entry per ground truth")
    variances = (_gt_sigmas(gt, sigmas) * 2) ** 2
    labelled = gt.labelled_count()
    x0 = bbox[:, 0] - bbox[:, 2]
    x1 = bbox[:, 0] + bbox[:, 2] * 2
    y0 = bbox[:, 1] - bbox[:, 3]
    y1 = bbox[:, 1] + bbox[:, 3] * 2
    scale = area + np.spacing(1)
    grown = np.stack([x0, x1, y0, y1], axis=1)

    def pair_oks(ds: IndexArray, gs: IndexArray, k: int) -> FloatArray:
        di = dt.offsets[ds, None] + np.arange(k)
        gi = gt.offsets[gs, None] + np.arange(k)
        xd, yd = dt.x[di], dt.y[di]
        visible = gt.visibility[gi] > 0
        any_visible = (labelled[gs] > 0)[:, None]
        dx = np.where(
            any_visible,
            xd - gt.x[gi],
            np.maximum(0.0, x0[gs, None] - xd) + np.maximum(0.0, xd - x1[gs, None]),
        )
        dy = np.where(
            any_visible,
            yd - gt.y[gi],
            np.maximum(0.0, y0[gs, None] - yd) + np.maximum(0.0, yd - y1[gs, None]),
        )
        e = (dx**2 + dy**2) / variances[gi] / scale[gs, None] / 2
        counted = visible | ~any_visible
        with np.errstate(over="ignore"):  # a negative area: exp overflows to inf, as in COCOeval
            total = np.where(counted, np.exp(-e), 0.0).sum(axis=1)
        mean: FloatArray = total / counted.sum(axis=1)
        return mean

    def kernel(dt_index: IndexArray, gt_index: IndexArray, gt_crowd: BoolArray) -> FloatArray:
        d, g, _ = check_pairs(dt_index, gt_index, gt_crowd, len(dt), len(gt))
        k_d, k_g = dt.sizes[d], gt.sizes[g]
        if np.any(k_d != k_g):
            p = int(np.argmax(k_d != k_g))
            raise ValueError(
                f"prediction {int(d[p])} has {int(k_d[p])} keypoints, "
                f"ground truth {int(g[p])} has {int(k_g[p])}"
            )
        compiled = native.oks(
            (dt.x, dt.y, dt.offsets),
            (gt.x, gt.y, gt.visibility, gt.offsets),
            variances,
            labelled,
            grown,
            scale,
            *_nonempty(d, g, k_g),
        )
        if compiled is not None:
            out = np.zeros(d.shape[0], dtype=np.float64)
            out[k_g > 0] = compiled
            return out
        out = np.zeros(d.shape[0], dtype=np.float64)
        for k in np.unique(k_g).tolist():
            if k == 0:
                continue
            same_k = np.flatnonzero(k_g == k)
            for first, stop in chunks(np.full(same_k.shape[0], k, dtype=np.int64)):
                sel = same_k[first:stop]
                out[sel] = pair_oks(d[sel], g[sel], k)
        return out

    return kernel


def _nonempty(d: IndexArray, g: IndexArray, k: IndexArray) -> tuple[IndexArray, IndexArray]:
    """The pairs whose ground truth has keypoints (the others score 0)."""
    if bool((k > 0).all()):
        return d, g
    keep = k > 0
    return d[keep], g[keep]
