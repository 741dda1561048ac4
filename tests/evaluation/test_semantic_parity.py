"""Pixel metrics of the semantic engine against torchmetrics on the same masks (to 1e-9),
ignore index and classes absent from the ground truth included; the frequency-weighted IoU
and the mean class accuracy against their published definitions where torchmetrics has no
counterpart."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from sliceboard.evaluation.label_maps import LabelMap
from sliceboard.evaluation.pixel_confusion import joint_counts
from sliceboard.evaluation.semantic import MaskInput, evaluate_semantic
from sliceboard.evaluation.semantic_metrics import (
    mean_image_iou,
    pixel_confusion,
    pixel_metrics,
)
from tests.support.label_maps import blocky_map, perturbed

torch = pytest.importorskip("torch")
tm_classification = pytest.importorskip("torchmetrics.classification")
tm_segmentation = pytest.importorskip("torchmetrics.functional.segmentation")

IGNORE = 255
N_LABELS = 6  # label codes 0..5; code 5 never appears in the ground truth
IGNORED_TARGET = -1


@pytest.fixture(autouse=True)
def _double_precision(monkeypatch: pytest.MonkeyPatch):
    """torchmetrics counts in integers (compared exactly below) and then casts them with
    ``Tensor.float()`` before dividing: float32, whose 1e-7 would hide any error below it.
    Here that cast gives float64, as does the default dtype (the F1 multiplies its integer
    counts by a Python float), so its own divisions can be compared to 1e-9."""
    monkeypatch.setattr(torch.Tensor, "float", lambda self: self.double())
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


def _case(seed: int, n_images: int = 5, height: int = 37, width: int = 53, flip: float = 0.1):
    """Masks whose index k (1..6) means label code k-1; GT never uses index 6 (label 5)."""
    rng = np.random.default_rng(seed)
    gts, dts = [], []
    for _ in range(n_images):
        gt = blocky_map(rng, height, width, [IGNORE, 1, 2, 3, 4, 5], cell=int(rng.integers(2, 9)))
        dt = perturbed(rng, gt, [IGNORE, 1, 2, 3, 4, 5, 6], flip)
        dt[dt == IGNORE] = rng.choice([IGNORE, 1, 6])  # predictions leave some pixels unlabelled
        gts.append(gt)
        dts.append(dt)
    return gts, dts


def _mask(item: int, array: np.ndarray, declared: list[int]) -> MaskInput:
    indices = np.array(declared, dtype=np.int64)
    return MaskInput(item, item, LabelMap.from_array(array), indices, indices - 1)


def _evaluate(gts: list[np.ndarray], dts: list[np.ndarray]):
    return evaluate_semantic(
        [_mask(i, gt, [1, 2, 3, 4, 5]) for i, gt in enumerate(gts)],
        [_mask(i, dt, [1, 2, 3, 4, 5, 6]) for i, dt in enumerate(dts)],
        n_items=len(gts),
        n_labels=N_LABELS,
        ignore_index=IGNORE,
    )


def _torch_inputs(gts: list[np.ndarray], dts: list[np.ndarray]):
    """Targets with ignored pixels at -1; predictions with unlabelled pixels as class 6."""
    target = np.stack(gts).astype(np.int64) - 1
    target[np.stack(gts) == IGNORE] = IGNORED_TARGET
    preds = np.stack(dts).astype(np.int64) - 1
    preds[np.stack(dts) == IGNORE] = N_LABELS
    return torch.from_numpy(preds), torch.from_numpy(target)


def _one_hot(indices: np.ndarray, keep: np.ndarray) -> Any:
    """(N, L, H, W) one-hot of label codes; pixels outside ``keep`` (or unlabelled) all zero."""
    out = np.zeros((indices.shape[0], N_LABELS, *indices.shape[1:]), dtype=np.int64)
    for c in range(N_LABELS):
        out[:, c] = (indices == c) & keep
    return torch.from_numpy(out)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_pixel_metrics_equal_torchmetrics(seed: int) -> None:
    gts, dts = _case(seed)
    table = _evaluate(gts, dts)
    ours = pixel_metrics(pixel_confusion(table, None))
    preds, target = _torch_inputs(gts, dts)
    classes = N_LABELS + 1  # the unlabelled prediction is a class of its own for torchmetrics
    kwargs = {"num_classes": classes, "ignore_index": IGNORED_TARGET}

    confusion = tm_classification.MulticlassConfusionMatrix(**kwargs)(preds, target).numpy()
    np.testing.assert_array_equal(ours.confusion, confusion[:N_LABELS])

    for metric, value in (
        (tm_classification.MulticlassJaccardIndex, ours.iou),
        (tm_classification.MulticlassF1Score, ours.dice),
        (tm_classification.MulticlassPrecision, ours.precision),
        (tm_classification.MulticlassRecall, ours.recall),
    ):
        theirs = metric(average=None, zero_division=0, **kwargs)(preds, target).numpy()[:N_LABELS]
        defined = ~np.isnan(value)  # ours is NaN where torchmetrics answers its zero_division
        np.testing.assert_allclose(value[defined], theirs[defined], rtol=0, atol=1e-9)
        assert (theirs[~defined] == 0).all()
    assert np.isnan(ours.recall[N_LABELS - 1])  # label 5 is absent from the ground truth
    assert ours.iou[N_LABELS - 1] == 0.0  # ... but predicted: IoU 0, and counted in meanIou

    accuracy = tm_classification.MulticlassAccuracy(average="micro", **kwargs)(preds, target)
    assert abs(ours.pixel_accuracy - float(accuracy)) <= 1e-9

    # dataset-accumulated mIoU: all images as one sample of torchmetrics' mean_iou (one-hot,
    # so ignored and unlabelled pixels are all-zero vectors and count as nothing predicted)
    keep = target.numpy() != IGNORED_TARGET
    flat_p = _one_hot(preds.numpy(), keep).permute(1, 0, 2, 3).reshape(1, N_LABELS, -1, 1)
    flat_t = _one_hot(target.numpy(), keep).permute(1, 0, 2, 3).reshape(1, N_LABELS, -1, 1)
    dataset_miou = tm_segmentation.mean_iou(flat_p, flat_t, num_classes=N_LABELS)
    assert abs(ours.mean_iou - float(dataset_miou[0])) <= 1e-9

    # per-image mIoU, then the mean over images
    per_image = tm_segmentation.mean_iou(
        _one_hot(preds.numpy(), keep), _one_hot(target.numpy(), keep), num_classes=N_LABELS
    ).double()
    assert abs(mean_image_iou(table, None) - float(per_image.mean())) <= 1e-9


def test_definitions_without_a_torchmetrics_counterpart() -> None:
    """fwIoU = sum_c (n_c / N) IoU_c (Long et al., FCN, 2015); mean class accuracy = mean of
    n_cc / n_c over classes with n_c > 0 (mmsegmentation's mAcc); pixel by pixel here."""
    gts, dts = _case(7)
    ours = pixel_metrics(pixel_confusion(_evaluate(gts, dts), None))
    gt = np.concatenate([g.ravel() for g in gts])
    dt = np.concatenate([d.ravel() for d in dts])
    keep = gt != IGNORE
    gt, dt = gt[keep], dt[keep]
    n_total = gt.shape[0]
    fw, accuracies = 0.0, []
    for c in range(1, N_LABELS + 1):
        n_c = int((gt == c).sum())
        if n_c == 0:
            continue
        inter = int(((gt == c) & (dt == c)).sum())
        union = int(((gt == c) | (dt == c)).sum())
        fw += n_c / n_total * inter / union
        accuracies.append(inter / n_c)
    assert abs(ours.frequency_weighted_iou - fw) <= 1e-12
    assert abs(ours.mean_class_accuracy - float(np.mean(accuracies))) <= 1e-12


@pytest.mark.parametrize("flip", [0.0, 0.05, 0.9])
def test_run_merge_equals_pixel_count(flip: float) -> None:
    """The run-merging joint histogram and the dense count agree (noise picks the dense path)."""
    rng = np.random.default_rng(11)
    gt = blocky_map(rng, 64, 96, [0, 1, 2, 700], cell=5)
    dt = perturbed(rng, gt, [0, 1, 3, 700], flip)
    counts = joint_counts(LabelMap.from_array(gt), LabelMap.from_array(dt))
    expected: dict[tuple[int, int], int] = {}
    for g, d in zip(gt.ravel().tolist(), dt.ravel().tolist(), strict=True):
        expected[(g, d)] = expected.get((g, d), 0) + 1
    got = dict(
        zip(
            zip(counts.gt.tolist(), counts.dt.tolist(), strict=True),
            counts.count.tolist(),
            strict=True,
        )
    )
    assert got == expected


def test_label_map_round_trip_and_digest() -> None:
    rng = np.random.default_rng(5)
    array = blocky_map(rng, 31, 17, [0, 3, 65535])
    label_map = LabelMap.from_array(array)
    again = LabelMap.from_bytes(label_map.to_bytes())
    np.testing.assert_array_equal(again.to_array(), array)
    assert again.digest() == label_map.digest()
    changed = array.copy()
    changed[0, 0] = 1 if changed[0, 0] != 1 else 2
    assert LabelMap.from_array(changed).digest() != label_map.digest()
