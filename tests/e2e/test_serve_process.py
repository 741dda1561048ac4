"""``sliceboard serve`` as a real process: upload, stop with SIGTERM, start again, read back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.serving import post, serving, subscription

pytestmark = pytest.mark.slow


def test_data_survives_a_restart(tmp_path: Path) -> None:
    database = tmp_path / "sliceboard.db"
    with serving(database) as base:
        dataset = post(
            base, 'mutation { createDataset(input: {name: "kept"}) { ... on Dataset { id } } }'
        )
        dataset_id = dataset["createDataset"]["id"]
        items = [{"referenceId": f"r{i}", "metadata": {"i": i}} for i in range(30)]
        post(
            base,
            "mutation($d: ID!, $i: [ItemInput!]!) { upsertItems(datasetId: $d, items: $i) { __typename } }",
            {"d": dataset_id, "i": items},
        )
        annotations = [
            {
                "referenceId": f"r{i}",
                "annotationId": "a",
                "label": "car",
                "box": {"x": i, "y": 0, "width": 2, "height": 3},
            }
            for i in range(30)
        ]
        post(
            base,
            "mutation($d: ID!, $a: [AnnotationInput!]!) { upsertAnnotations(datasetId: $d, annotations: $a) { __typename } }",
            {"d": dataset_id, "a": annotations},
        )
        # The websocket endpoint speaks graphql-transport-ws; an unknown job is a coded error.
        with subscription(base, 'subscription { job(id: "999") { status } }') as ws:
            message = json.loads(ws.recv(timeout=10))
            assert message["type"] in ("error", "next")
            errors = (
                message["payload"] if message["type"] == "error" else message["payload"]["errors"]
            )
            assert errors[0]["extensions"]["code"] == "NOT_FOUND"

    with serving(database) as base:
        data = post(
            base,
            """{ dataset(name: "kept") { items(first: 100, filter: {metadata: {field: "i", op: GTE, value: 20}}) {
                 totalCount edges { node { referenceId annotations { geometry { ... on Box { x width height } } } } } } } }""",
        )
    items_back = data["dataset"]["items"]
    assert items_back["totalCount"] == 10
    first = items_back["edges"][0]["node"]
    assert first == {
        "referenceId": "r20",
        "annotations": [{"geometry": {"x": 20.0, "width": 2.0, "height": 3.0}}],
    }
