"""A generated COCO case written through the upload services: a dataset, its ground truth and
a run of predictions, ready to evaluate (both backends)."""

from __future__ import annotations

from typing import Any

from sliceboard.runtime import Runtime
from sliceboard.services import catalog, uploads
from sliceboard.storage.db import transaction
from tests.support.coco_cases import CocoCase

MAX_ROWS = 1_000_000


async def upload_case(runtime: Runtime, case: CocoCase) -> tuple[str, str]:
    """The case as a dataset (items in image-id order, metadata split = even/odd) and a run."""
    images = sorted(case.dataset["images"], key=lambda i: i["id"])
    key_of = {i["id"]: i["key"] for i in images}
    name_of = {c["id"]: c["name"] for c in case.dataset["categories"]}
    async with transaction(runtime.sessions) as session:
        dataset = await catalog.create_dataset(session, name="coco", metadata=None)
        dataset_id = str(dataset.id)
        items = [
            {
                "reference_id": key_of[i["id"]],
                "width": i["width"],
                "height": i["height"],
                "metadata": {"split": "even" if i["id"] % 2 == 0 else "odd", "n": i["id"]},
            }
            for i in images
        ]
        await uploads.upsert_items(
            session, dataset_id=dataset_id, items=items, update=False, max_rows=MAX_ROWS
        )

        def box_row(coco_object: dict[str, Any], annotation_id: str) -> dict[str, Any]:
            return {
                "reference_id": key_of[coco_object["image_id"]],
                "annotation_id": annotation_id,
                "label": name_of[coco_object["category_id"]],
                "box": dict(zip(("x", "y", "width", "height"), coco_object["bbox"], strict=True)),
            }

        annotations = [
            {**box_row(a, f"gt-{a['id']}"), "area": a["area"], "iscrowd": bool(a["iscrowd"])}
            for a in case.dataset["annotations"]
        ]
        await uploads.upsert_annotations(
            session, dataset_id=dataset_id, annotations=annotations, update=False, max_rows=MAX_ROWS
        )
        model = await catalog.create_model(session, name="m", reference_id="m", metadata=None)
        run = await catalog.create_model_run(
            session, model_id=str(model.id), dataset_id=dataset_id, name="r"
        )
        run_id = str(run.id)
        predictions = [
            {**box_row(d, f"dt-{k}"), "confidence": d["score"]}
            for k, d in enumerate(case.detections)
        ]
        await uploads.upsert_predictions(
            session, model_run_id=run_id, predictions=predictions, update=False, max_rows=MAX_ROWS
        )
    return dataset_id, run_id
