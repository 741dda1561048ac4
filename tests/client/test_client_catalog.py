"""The client's catalog, reads and typed errors against a real server, on both backends."""

from __future__ import annotations

import math
from typing import Any

import pytest

from sliceboard.client import (
    AsyncClient,
    Client,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    to_frame,
)

pytestmark = pytest.mark.slow


def box(x: float = 0, y: float = 0, w: float = 10, h: float = 10) -> dict[str, float]:
    return {"x": x, "y": y, "width": w, "height": h}


def test_catalog_round_trip_and_get_or_create(served: str, unique: str) -> None:
    with Client(served) as client:
        dataset = client.ensure_dataset(f"d-{unique}", {"source": "test"})
        assert client.ensure_dataset(f"d-{unique}") == dataset
        assert client.dataset(name=f"d-{unique}") == dataset
        assert client.dataset(dataset.id) == dataset
        assert dataset.metadata == {"source": "test"}
        assert dataset.id in {d.id for d in client.datasets()}

        model = client.ensure_model(f"m-{unique}", name="My model")
        assert (model.name, model.reference_id) == ("My model", f"m-{unique}")
        assert client.ensure_model(f"m-{unique}") == model
        run = client.ensure_model_run(model, dataset, "val")
        assert client.ensure_model_run(model.id, dataset.id, "val") == run
        assert (run.model_id, run.dataset_id, run.name) == (model.id, dataset.id, "val")
        other = client.ensure_model_run(model, dataset, "test")
        assert [r.id for r in client.model_runs(dataset)] == [run.id, other.id]
        assert client.model_run(run.id) == run

        with pytest.raises(ConflictError):
            client.create_dataset(f"d-{unique}")
        with pytest.raises(ConflictError):
            client.create_model("again", f"m-{unique}")
        with pytest.raises(NotFoundError):
            client.create_model_run(model, "987654321", "x")
        assert client.model_run("987654321") is None
        assert client.dataset(name=f"missing-{unique}") is None

        assert client.delete_dataset(dataset) == dataset.id
        assert client.dataset(name=f"d-{unique}") is None
        with pytest.raises(NotFoundError):
            client.delete_dataset(dataset)
        with pytest.raises(NotFoundError):
            list(client.items(dataset))


def test_refused_batch_names_the_row_over_the_whole_upload(served: str, unique: str) -> None:
    with Client(served, batch_rows=4) as client:
        dataset = client.ensure_dataset(f"d-{unique}")
        items = [{"referenceId": f"i{k}", "width": 10, "height": 10} for k in range(8)]
        items[6]["width"] = -3
        with pytest.raises(InvalidInputError) as refused:
            client.upsert_items(dataset, items)
        assert [issue.path for issue in refused.value.issues] == ["items[6].width"]
        assert "items[4..7]" in str(refused.value)
        # the first batch was written; the refused one wrote nothing
        assert [item.reference_id for item in client.items(dataset)] == ["i0", "i1", "i2", "i3"]


def test_a_row_that_is_not_json_is_refused_before_sending(served: str, unique: str) -> None:
    with Client(served) as client:
        dataset = client.ensure_dataset(f"d-{unique}")
        rows: list[dict[str, Any]] = [
            {"referenceId": "a"},
            {"referenceId": "b", "metadata": {"x": math.nan}},
        ]
        with pytest.raises(InvalidInputError) as refused:
            client.upsert_items(dataset, rows)
        assert [issue.path for issue in refused.value.issues] == ["items[1]"]
        assert list(client.items(dataset)) == []


def test_reads_page_through_everything(served: str, unique: str) -> None:
    with Client(served, page_size=3) as client:
        dataset = client.ensure_dataset(f"d-{unique}")
        items = [
            {"referenceId": f"i{k:02d}", "width": 100, "height": 50, "metadata": {"n": k}}
            for k in range(10)
        ]
        assert client.upsert_items(dataset, items).new == 10
        assert client.upsert_items(dataset, items).ignored == 10
        changed = [{**items[0], "metadata": {"n": 100}}]
        assert client.upsert_items(dataset, changed, update=True).updated == 1
        read = list(client.items(dataset))
        assert [i.reference_id for i in read] == [f"i{k:02d}" for k in range(10)]
        assert read[0].metadata == {"n": 100} and (read[1].width, read[1].height) == (100, 50)
        odd = {"metadata": {"field": "n", "op": "IN", "value": [1, 3, 5]}}
        assert [i.reference_id for i in client.items(dataset, filter=odd)] == ["i01", "i03", "i05"]

        annotations = [
            {
                "referenceId": f"i{k:02d}",
                "annotationId": "g",
                "label": "cat" if k % 2 else "dog",
                "box": box(k, k),
            }
            for k in range(10)
        ]
        assert client.upsert_annotations(dataset, annotations).new == 10
        cats = list(client.annotations(dataset, labels=["cat"]))
        assert [(a.reference_id, a.geometry["x"] if a.geometry else None) for a in cats] == [
            (f"i{k:02d}", float(k)) for k in range(1, 10, 2)
        ]
        frame = to_frame(client.items(dataset))
        assert list(frame["reference_id"]) == [f"i{k:02d}" for k in range(10)]
        assert frame.shape == (10, 6)

        s = client.create_slice(dataset, "odd", filter=odd)
        fixed = client.create_slice(dataset, "two", reference_ids=["i00", "i09"])
        assert [x.name for x in client.slices(dataset)] == ["odd", "two"]
        assert fixed.reference_ids == ["i00", "i09"] and s.dataset_id == dataset.id
        with pytest.raises(ConflictError):
            client.create_slice(dataset, "odd", reference_ids=["i00"])


def test_labels_and_custom_metrics(served: str, unique: str) -> None:
    with Client(served, batch_rows=2) as client:
        dataset = client.ensure_dataset(f"d-{unique}")
        client.upsert_items(dataset, [{"referenceId": r} for r in "abc"])
        client.upsert_annotations(
            dataset,
            [
                {"referenceId": r, "annotationId": f"g{r}", "label": "x", "box": box()}
                for r in "abc"
            ],
        )
        run = client.ensure_model_run(client.ensure_model(f"m-{unique}"), dataset, "r")
        assert client.upsert_labels(run, ["ga", "gb"]) == run
        metrics = [
            {"name": "loss", "referenceId": r, "value": v}
            for r, v in zip("abc", (1, 2, 6), strict=True)
        ]
        assert client.upload_custom_metrics(run, metrics).new == 3
        (loss,) = client.custom_metrics(run, names=["loss"])
        assert (loss["value"], loss["count"]) == (3.0, 3)
        (only_a,) = client.custom_metrics(run, filter={"referenceIds": ["a"]})
        assert only_a["value"] == 1.0
        with pytest.raises(InvalidInputError) as refused:
            client.upsert_labels(run, ["ga"], all=True)
        assert refused.value.issues


async def test_async_client_is_the_same_client(served: str, unique: str) -> None:
    async with AsyncClient(served, batch_rows=3) as client:
        dataset = await client.ensure_dataset(f"d-{unique}")
        result = await client.upsert_items(dataset, ({"referenceId": f"r{k}"} for k in range(7)))
        assert (result.new, result.updated, result.ignored) == (7, 0, 0)
        assert [item.reference_id async for item in client.items(dataset)] == [
            f"r{k}" for k in range(7)
        ]
        with pytest.raises(NotFoundError):
            await client.upsert_items("987654321", [{"referenceId": "x"}])
