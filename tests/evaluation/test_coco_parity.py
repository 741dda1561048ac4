"""Bit-level parity (1e-12) with pycocotools on generated cases with the hard parts.

Each case has tied scores, crowd regions, ground truth with ``area`` exactly
32**2 and 96**2, predictions of area exactly 32**2, images without predictions
or without ground truth, a category without ground truth, non-contiguous
category ids, string image keys mapped to items, and an (image, category) with
130 predictions (more than maxDets).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sliceboard.evaluation import MatchOptions, coco_summary
from tests.support.coco_cases import (
    TOL,
    assert_same,
    make_case,
    run_engine,
    run_pycocotools,
    subset_case,
)


@pytest.mark.parametrize("seed", range(8))
def test_bbox_matches_pycocotools(seed: int) -> None:
    case = make_case(seed)
    _, summary = run_engine(case)
    assert_same(run_pycocotools(case), summary)


@pytest.mark.parametrize("seed", range(3))
def test_bbox_without_ties_matches_pycocotools(seed: int) -> None:
    case = make_case(100 + seed, tied_scores=False)
    _, summary = run_engine(case)
    assert_same(run_pycocotools(case), summary)


@pytest.mark.parametrize("seed", range(4))
def test_class_agnostic_matches_pycocotools_use_cats_0(seed: int) -> None:
    case = make_case(200 + seed)
    _, summary = run_engine(case, MatchOptions(class_agnostic=True))
    assert_same(run_pycocotools(case, use_cats=False), summary)


def test_case_exercises_the_hard_parts() -> None:
    case = make_case(0)
    anns = case.dataset["annotations"]
    areas = {a["area"] for a in anns}
    assert 32.0**2 in areas and 96.0**2 in areas
    assert any(a["iscrowd"] for a in anns)
    gt_images = {a["image_id"] for a in anns}
    dt_images = {d["image_id"] for d in case.detections}
    all_images = {i["id"] for i in case.dataset["images"]}
    assert all_images - dt_images  # images without predictions
    assert dt_images - gt_images  # images with predictions but no ground truth
    scores = [d["score"] for d in case.detections]
    assert len(set(scores)) < len(scores)
    per_pair: dict[tuple[int, int], int] = {}
    for d in case.detections:
        key = (d["image_id"], d["category_id"])
        per_pair[key] = per_pair.get(key, 0) + 1
    assert max(per_pair.values()) > 100
    assert 40 not in {a["category_id"] for a in anns}


@pytest.mark.parametrize("seed", range(3))
def test_per_class_ap_matches_pycocotools(seed: int) -> None:
    case = make_case(300 + seed)
    _, summary = run_engine(case)
    ref = run_pycocotools(case)
    precision = ref.eval["precision"][:, :, :, 0, -1]
    for k in range(precision.shape[2]):
        cells = precision[:, :, k]
        expected = np.mean(cells[cells > -1]) if (cells > -1).any() else -1.0
        assert summary.ap[k] == pytest.approx(expected, abs=TOL)


@pytest.mark.parametrize("seed", range(3))
def test_subset_of_full_table_equals_pycocotools_on_subset(seed: int) -> None:
    case = make_case(400 + seed, n_images=30)
    rng = np.random.default_rng(seed)
    mask = rng.random(len(case.image_keys)) < 0.5
    keep = {k for k, m in zip(case.image_keys, mask, strict=True) if m}
    table, _ = run_engine(case)
    summary = coco_summary(table, mask)
    assert_same(run_pycocotools(subset_case(case, keep)), summary)


def test_chunked_pair_generation_and_rounds_give_the_same_result(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Tiny chunks exercise the splitting of candidate generation and of rounds."""
    import sliceboard.evaluation.candidates as candidates
    import sliceboard.evaluation.matching as matching

    case = make_case(11, n_images=30)
    monkeypatch.setattr(candidates, "PAIR_CHUNK", 5)
    monkeypatch.setattr(matching, "_ROUND_CHUNK", 7)
    _, summary = run_engine(case)
    assert_same(run_pycocotools(case), summary)


@pytest.mark.parametrize(
    "options",
    [
        MatchOptions(),
        MatchOptions(class_agnostic=True),
        MatchOptions(allowed_label_matches=((0, 1),)),
    ],
)
def test_stored_accumulate_order_is_label_score_item_input(options: MatchOptions) -> None:
    """pycocotools' accumulate order, written out: evaluated predictions by label, then
    descending score, then item, then input order (a plain Python sort of the tuples)."""
    table, _ = run_engine(make_case(5), options)
    limit = int(table.max_detections.max())
    label, score, item = table.dt_label.tolist(), table.dt_score.tolist(), table.dt_item.tolist()
    evaluated = [p for p, rank in enumerate(table.dt_rank.tolist()) if rank < limit]
    expected = sorted(evaluated, key=lambda p: (label[p], -score[p], item[p], p))
    assert len(expected) < len(label)  # some predictions are beyond maxDets
    assert table.dt_metric_order.tolist() == expected


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("class_agnostic", [False, True])
def test_largest_max_dets_only_keeps_every_number(seed: int, class_agnostic: bool) -> None:
    """What a slice's report asks for: precision at the last maxDets only."""
    case = make_case(500 + seed, n_images=30)
    table, _ = run_engine(case, MatchOptions(class_agnostic=class_agnostic))
    mask = np.random.default_rng(seed).random(len(case.image_keys)) < 0.5
    keep = {k for k, m in zip(case.image_keys, mask, strict=True) if m}
    ref = run_pycocotools(subset_case(case, keep), use_cats=not class_agnostic)
    summary = coco_summary(table, mask, all_precision=False)
    np.testing.assert_allclose(summary.stats, ref.stats, rtol=0, atol=TOL)
    np.testing.assert_allclose(summary.recall, ref.eval["recall"], rtol=0, atol=TOL)
    assert summary.precision.shape[-1] == 1  # the last maxDets alone
    top = ref.eval["precision"][..., -1]
    np.testing.assert_allclose(summary.precision[..., -1], top, rtol=0, atol=TOL)
    np.testing.assert_allclose(summary.ap, coco_summary(table, mask).ap, rtol=0, atol=0)


def test_largest_max_dets_only_is_ignored_where_ap_reads_another() -> None:
    """pycocotools reads AP at maxDets[2]: with four limits that is not the last."""
    case = make_case(510, n_images=20)
    options = MatchOptions(max_detections=(1, 10, 100, 300))
    table, _ = run_engine(case, options)
    full, last_only = coco_summary(table), coco_summary(table, all_precision=False)
    assert last_only.precision.shape == full.precision.shape
    np.testing.assert_array_equal(last_only.stats, full.stats)


def test_largest_max_dets_only_where_two_limits_keep_the_same_predictions() -> None:
    """No (image, class) with more than 10 predictions: maxDets 10 and 100 share one curve."""
    case = make_case(520, n_images=30)
    count: dict[tuple[int, int], int] = {}
    kept = []
    for d in case.detections:
        key = (d["image_id"], d["category_id"])
        count[key] = count.get(key, 0) + 1
        if count[key] <= 10:
            kept.append(d)
    case = dataclasses.replace(case, detections=kept)
    table, _ = run_engine(case)
    ref = run_pycocotools(case)
    summary = coco_summary(table, all_precision=False)
    np.testing.assert_allclose(summary.stats, ref.stats, rtol=0, atol=TOL)
    np.testing.assert_allclose(summary.recall, ref.eval["recall"], rtol=0, atol=TOL)
    np.testing.assert_allclose(summary.precision[..., 0], ref.eval["precision"][..., -1], atol=TOL)
