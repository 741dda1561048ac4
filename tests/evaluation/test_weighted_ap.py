"""AP under item multiplicities equals pycocotools: with every weight 1 on the case itself,
and with weights k on the dataset where each image is repeated k times (copies consecutive in
image order), ties in score included; restricting the statistics to some items changes
nothing for weights that are zero elsewhere."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from sliceboard.evaluation import MatchOptions, coco_summary
from sliceboard.evaluation.bootstrap import metric_samples, restrict_statistics, run_statistics
from sliceboard.evaluation.weighted_ap import table_ap_statistics, weighted_ap
from tests.support.coco_cases import (
    PROTOCOL_OPTIONS,
    CocoCase,
    make_case,
    run_engine,
    run_pycocotools,
)

TOL = 1e-12


def per_class_ap(table: Any, weights: np.ndarray) -> np.ndarray:
    """(K, T) AP at each threshold of the COCO grid, -1 where undefined."""
    out = np.empty((table.n_labels if not table.class_agnostic else 1, table.n_grid))
    for rows, stats in table_ap_statistics(table):
        out[:, rows] = weighted_ap(stats, weights[None, :])[0].T
    return out


def reference_ap(case: CocoCase, use_cats: bool = True) -> np.ndarray:
    precision = run_pycocotools(case, use_cats=use_cats).eval["precision"][:, :, :, 0, -1]
    defined = (precision > -1).all(axis=(0, 1))
    return np.where(defined[:, None], precision.mean(axis=1).T, -1.0)


def repeated(case: CocoCase, weights: np.ndarray) -> CocoCase:
    """The case with image i (in key order) present weights[i] times, copies consecutive."""
    images = sorted(case.dataset["images"], key=lambda i: i["key"])
    new_images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    detections: list[dict[str, Any]] = []
    for index, image in enumerate(images):
        for copy in range(int(weights[index])):
            new_id = len(new_images) + 1
            new_images.append({**image, "id": new_id, "key": f"{image['key']}-{copy:02d}"})
            annotations += [
                {**a, "id": len(annotations) + k + 1, "image_id": new_id}
                for k, a in enumerate(
                    a for a in case.dataset["annotations"] if a["image_id"] == image["id"]
                )
            ]
            detections += [
                {**d, "image_id": new_id} for d in case.detections if d["image_id"] == image["id"]
            ]
    dataset = {**case.dataset, "images": new_images, "annotations": annotations}
    return CocoCase(dataset, detections, [i["key"] for i in new_images])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_unit_weights_give_pycocotools_per_class_ap(seed: int) -> None:
    case = make_case(seed, 30)
    table, _ = run_engine(case)
    np.testing.assert_allclose(
        per_class_ap(table, np.ones(table.n_items)), reference_ap(case), rtol=0, atol=TOL
    )


@pytest.mark.parametrize("options", PROTOCOL_OPTIONS[3:], ids=["agnostic", "cross-label"])
def test_unit_weights_agree_with_the_engine_under_label_options(options: MatchOptions) -> None:
    case = make_case(5, 30)
    table, _ = run_engine(case, options)
    summary = coco_summary(table)
    mine = per_class_ap(table, np.ones(table.n_items))
    ap = np.where((mine > -1).all(axis=1), mine.mean(axis=1), -1.0)
    np.testing.assert_allclose(ap, summary.ap, rtol=0, atol=TOL)


@pytest.mark.parametrize("seed", [3, 4])
def test_repeated_items_give_pycocotools_on_the_repeated_dataset(seed: int) -> None:
    case = make_case(seed, 24)  # scores rounded to 0.1: many ties inside and across images
    table, _ = run_engine(case)
    weights = np.random.default_rng(seed).integers(0, 4, size=table.n_items).astype(np.float64)
    expected = reference_ap(repeated(case, weights))
    np.testing.assert_allclose(per_class_ap(table, weights), expected, rtol=0, atol=TOL)


def test_restricted_statistics_answer_as_the_whole_for_their_items() -> None:
    case = make_case(7, 40)
    table, _ = run_engine(case)
    stats = run_statistics(table, 0.5, 0.3)
    rng = np.random.default_rng(7)
    keep = rng.random(table.n_items) < 0.4
    weights = np.zeros((3, table.n_items))
    weights[:, keep] = rng.integers(0, 3, size=(3, int(keep.sum())))
    weights[0] = keep
    whole = metric_samples(stats, weights)
    part = metric_samples(restrict_statistics(stats, keep), weights)
    for name in whole.overall:
        np.testing.assert_allclose(part.overall[name], whole.overall[name], rtol=0, atol=TOL)
        np.testing.assert_allclose(part.per_label[name], whole.per_label[name], rtol=0, atol=TOL)
    # and the selection's own row is the slice's COCO AP
    assert abs(whole.overall["ap"][0] - coco_summary(table, keep).stats[0]) <= TOL
