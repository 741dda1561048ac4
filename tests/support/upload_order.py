"""COCO cases whose confidences tie across images, and their rows in any upload order.

pycocotools ranks equal scores of different images by sorted image id; a case with scores
rounded to two decimals has such ties in every class, so a server that ranks them by upload
order drifts from pycocotools as soon as the images arrive in another order.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sliceboard.runtime import Runtime
from sliceboard.services import catalog, uploads
from sliceboard.storage.db import transaction
from tests.support.coco_cases import CocoCase, make_case

Row = dict[str, Any]
MAX_ROWS = 1_000_000


def tied_case(seed: int, n_images: int) -> CocoCase:
    """``make_case`` with image ids of 1 to 6 digits (numeric order differs from text order),
    scores rounded to 2 decimals, and each image's referenceId its id written as text."""
    base = make_case(seed, n_images, tied_scores=False)
    rng = np.random.default_rng(seed + 1)
    new_ids = sorted({int(10 ** rng.uniform(0, 6)) for _ in range(4 * n_images)})
    chosen = rng.choice(len(new_ids), size=n_images, replace=False)
    id_of = {
        image["id"]: new_ids[k] for image, k in zip(base.dataset["images"], chosen, strict=True)
    }
    images = [
        {**i, "id": id_of[i["id"]], "key": str(id_of[i["id"]])} for i in base.dataset["images"]
    ]
    annotations = [{**a, "image_id": id_of[a["image_id"]]} for a in base.dataset["annotations"]]
    detections = [
        {**d, "image_id": id_of[d["image_id"]], "score": round(d["score"], 2)}
        for d in base.detections
    ]
    dataset = {**base.dataset, "images": images, "annotations": annotations}
    keys = [str(i) for i in sorted(id_of.values())]
    return CocoCase(dataset=dataset, detections=detections, image_keys=keys)


@dataclass(frozen=True)
class CaseRows:
    """The case as upload rows (the services' snake_case keys), in one upload order."""

    items: list[Row]
    annotations: list[Row]
    predictions: list[Row]


def case_rows(case: CocoCase, image_order: Sequence[int]) -> CaseRows:
    """Rows with the images in ``image_order`` (image ids) and each image's objects together,
    in file order inside the image (the order pycocotools breaks ties in an image by)."""
    images = {i["id"]: i for i in case.dataset["images"]}
    name_of = {c["id"]: c["name"] for c in case.dataset["categories"]}

    def box_row(coco_object: Row, annotation_id: str) -> Row:
        return {
            "reference_id": images[coco_object["image_id"]]["key"],
            "annotation_id": annotation_id,
            "label": name_of[coco_object["category_id"]],
            "box": dict(zip(("x", "y", "width", "height"), coco_object["bbox"], strict=True)),
        }

    rank = {image_id: k for k, image_id in enumerate(image_order)}
    anns = sorted(case.dataset["annotations"], key=lambda a: rank[a["image_id"]])
    dets = sorted(enumerate(case.detections), key=lambda kd: rank[kd[1]["image_id"]])
    return CaseRows(
        items=[
            {
                "reference_id": images[i]["key"],
                "width": images[i]["width"],
                "height": images[i]["height"],
                "metadata": {"even": i % 2 == 0},
            }
            for i in image_order
        ],
        annotations=[
            {**box_row(a, f"gt-{a['id']}"), "area": a["area"], "iscrowd": bool(a["iscrowd"])}
            for a in anns
        ],
        predictions=[{**box_row(d, f"dt-{k}"), "confidence": d["score"]} for k, d in dets],
    )


def batches(rows: list[Row], cuts: Sequence[int]) -> list[list[Row]]:
    """``rows`` cut at the given positions (any, unsorted, out of range ones clipped)."""
    bounds = sorted({0, len(rows), *(min(max(c, 0), len(rows)) for c in cuts)})
    return [rows[a:b] for a, b in itertools.pairwise(bounds) if b > a]


async def upload_rows(
    runtime: Runtime,
    rows: CaseRows,
    *,
    name: str,
    item_cuts: Sequence[int] = (),
    annotation_cuts: Sequence[int] = (),
    prediction_cuts: Sequence[int] = (),
) -> tuple[str, str]:
    """A dataset ``name`` and a run holding ``rows``, each kind uploaded in batches (one
    transaction each) cut at its ``*_cuts``; returns (dataset id, run id)."""
    async with transaction(runtime.sessions) as session:
        dataset = await catalog.create_dataset(session, name=name, metadata=None)
        model = await catalog.create_model(
            session, name=f"{name}-m", reference_id=f"{name}-m", metadata=None
        )
        run = await catalog.create_model_run(
            session, model_id=str(model.id), dataset_id=str(dataset.id), name="r"
        )
    dataset_id, run_id = str(dataset.id), str(run.id)
    for batch in batches(rows.items, item_cuts):
        async with transaction(runtime.sessions) as session:
            await uploads.upsert_items(
                session, dataset_id=dataset_id, items=batch, update=False, max_rows=MAX_ROWS
            )
    for batch in batches(rows.annotations, annotation_cuts):
        async with transaction(runtime.sessions) as session:
            await uploads.upsert_annotations(
                session, dataset_id=dataset_id, annotations=batch, update=False, max_rows=MAX_ROWS
            )
    for batch in batches(rows.predictions, prediction_cuts):
        async with transaction(runtime.sessions) as session:
            await uploads.upsert_predictions(
                session, model_run_id=run_id, predictions=batch, update=False, max_rows=MAX_ROWS
            )
    return dataset_id, run_id
