"""A small evaluated run on a served database for the browser tests: a generated COCO case
with item images (PNG files under a media root), a saved slice, and the GraphQL answers the
page must show."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

from tests.support.coco_cases import make_case
from tests.support.served_runs import graphql


def write_png(path: Path, width: int, height: int) -> None:
    """A grey PNG of the given size (no imaging library needed)."""
    row = b"\x00" + b"\xc8" * width
    raw = zlib.compress(row * height)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")
    )


def upload_served_run(base: str, media: Path, n_images: int = 16) -> dict[str, str]:
    """The case as dataset, model and run, items with images; ids of dataset, run and slice."""
    case = make_case(seed=5, n_images=n_images)
    images = sorted(case.dataset["images"], key=lambda i: i["id"])
    key = {i["id"]: i["key"] for i in images}
    name = {c["id"]: c["name"] for c in case.dataset["categories"]}
    for image in images:
        write_png(media / f"{image['key']}.png", image["width"], image["height"])

    def box(row: dict[str, Any]) -> dict[str, float]:
        return dict(zip(("x", "y", "width", "height"), row["bbox"], strict=True))

    def created(mutation: str, variables: dict[str, Any]) -> str:
        payload = next(iter(graphql(base, mutation, variables).values()))
        assert "id" in payload, payload
        return str(payload["id"])

    dataset = created(
        'mutation { createDataset(input: {name: "insights"}) { ... on Dataset { id } } }', {}
    )
    items = [
        {"referenceId": key[i["id"]], "width": i["width"], "height": i["height"],
         "url": f"{key[i['id']]}.png", "metadata": {"split": "even" if i["id"] % 2 == 0 else "odd"}}
        for i in images
    ]  # fmt: skip
    annotations = [
        {"referenceId": key[a["image_id"]], "annotationId": f"gt{a['id']}",
         "label": name[a["category_id"]], "box": box(a), "area": a["area"],
         "iscrowd": bool(a["iscrowd"])}
        for a in case.dataset["annotations"]
    ]  # fmt: skip
    graphql(
        base,
        "mutation($d: ID!, $r: [ItemInput!]!) { upsertItems(datasetId: $d, items: $r) { __typename } }",
        {"d": dataset, "r": items},
    )
    graphql(
        base,
        "mutation($d: ID!, $r: [AnnotationInput!]!) { upsertAnnotations(datasetId: $d, annotations: $r) { __typename } }",
        {"d": dataset, "r": annotations},
    )
    model = created(
        'mutation { createModel(input: {name: "detector", referenceId: "detector"}) { ... on Model { id } } }',
        {},
    )
    run = created(
        'mutation($m: ID!, $d: ID!) { createModelRun(input: {modelId: $m, datasetId: $d, name: "val"}) { ... on ModelRun { id } } }',
        {"m": model, "d": dataset},
    )
    predictions = [
        {"referenceId": key[d["image_id"]], "annotationId": f"dt{k}",
         "label": name[d["category_id"]], "box": box(d), "confidence": d["score"]}
        for k, d in enumerate(case.detections)
    ]  # fmt: skip
    graphql(
        base,
        "mutation($id: ID!, $r: [PredictionInput!]!) { upsertPredictions(modelRunId: $id, predictions: $r) { __typename } }",
        {"id": run, "r": predictions},
    )
    slice_id = created(
        'mutation($d: ID!) { createSlice(input: {datasetId: $d, name: "odd images", filter: {metadata: {field: "split", op: EQ, value: "odd"}}}) { ... on Slice { id } } }',
        {"d": dataset},
    )
    return {"dataset": dataset, "run": run, "slice": slice_id}


def upload_second_run(base: str, dataset: str, n_images: int = 16) -> str:
    """A second model's run on the dataset ``upload_served_run`` made (the same case): the first
    run's predictions with every third one dropped (objects it breaks) and exact boxes added for
    every fourth ground truth (objects it fixes); its id."""
    case = make_case(seed=5, n_images=n_images)
    key = {i["id"]: i["key"] for i in case.dataset["images"]}
    name = {c["id"]: c["name"] for c in case.dataset["categories"]}

    def box(row: dict[str, Any]) -> dict[str, float]:
        return dict(zip(("x", "y", "width", "height"), row["bbox"], strict=True))

    def created(mutation: str, variables: dict[str, Any]) -> str:
        payload = next(iter(graphql(base, mutation, variables).values()))
        assert "id" in payload, payload
        return str(payload["id"])

    model = created(
        'mutation { createModel(input: {name: "detector 2", referenceId: "detector-2"}) { ... on Model { id } } }',
        {},
    )
    run = created(
        'mutation($m: ID!, $d: ID!) { createModelRun(input: {modelId: $m, datasetId: $d, name: "candidate"}) { ... on ModelRun { id } } }',
        {"m": model, "d": dataset},
    )
    kept = [
        {"referenceId": key[d["image_id"]], "annotationId": f"dt{k}",
         "label": name[d["category_id"]], "box": box(d), "confidence": d["score"]}
        for k, d in enumerate(case.detections) if k % 3 != 0
    ]  # fmt: skip
    exact = [
        {"referenceId": key[a["image_id"]], "annotationId": f"exact{a['id']}",
         "label": name[a["category_id"]], "box": box(a), "confidence": 0.99}
        for a in case.dataset["annotations"] if a["id"] % 4 == 0 and not a["iscrowd"]
    ]  # fmt: skip
    graphql(
        base,
        "mutation($id: ID!, $r: [PredictionInput!]!) { upsertPredictions(modelRunId: $id, predictions: $r) { __typename } }",
        {"id": run, "r": kept + exact},
    )
    return run
