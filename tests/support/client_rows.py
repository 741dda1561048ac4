"""A generated COCO case (tests.support.coco_cases) as the client's upload rows: GraphQL input
field names, items in image-id order, predictions in detection order (pycocotools' tie order)."""

from __future__ import annotations

from typing import Any

from tests.support.coco_cases import CocoCase

Row = dict[str, Any]


def case_rows(case: CocoCase) -> tuple[list[Row], list[Row], list[Row]]:
    images = sorted(case.dataset["images"], key=lambda image: image["id"])
    key_of = {image["id"]: image["key"] for image in images}
    name_of = {c["id"]: c["name"] for c in case.dataset["categories"]}
    items = [
        {
            "referenceId": image["key"],
            "width": image["width"],
            "height": image["height"],
            "metadata": {"split": "even" if image["id"] % 2 == 0 else "odd", "n": image["id"]},
        }
        for image in images
    ]

    def box_row(coco_object: Row, annotation_id: str) -> Row:
        return {
            "referenceId": key_of[coco_object["image_id"]],
            "annotationId": annotation_id,
            "label": name_of[coco_object["category_id"]],
            "box": dict(zip(("x", "y", "width", "height"), coco_object["bbox"], strict=True)),
        }

    annotations = [
        {**box_row(a, f"gt-{a['id']}"), "area": a["area"], "iscrowd": bool(a["iscrowd"])}
        for a in case.dataset["annotations"]
    ]
    predictions = [
        {**box_row(d, f"dt-{k}"), "confidence": d["score"]} for k, d in enumerate(case.detections)
    ]
    return items, annotations, predictions
