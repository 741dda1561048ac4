"""Upserts on both databases: counts, idempotency, stored JSON, versions, refusal and rollback."""

from __future__ import annotations

import math
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sliceboard.errors import InvalidInput, NotFound
from sliceboard.services import uploads
from sliceboard.services.uploads import UpsertCounts
from sliceboard.storage.db import transaction
from sliceboard.storage.tables import Annotation, Dataset, Item, ModelRun, Prediction
from tests.support.factories import (
    MAX_ROWS,
    add_annotations,
    annotation,
    box,
    fetch_all,
    item,
    prediction,
    pts,
    row_counts,
    setup_dataset,
    setup_run,
)

Sessions = async_sessionmaker[AsyncSession]


async def put_annotations(
    sessions: Sessions, dataset_id: str, rows: list[dict[str, Any]], update: bool = False
) -> UpsertCounts:
    async with transaction(sessions) as session:
        return await uploads.upsert_annotations(
            session, dataset_id=dataset_id, annotations=rows, update=update, max_rows=MAX_ROWS
        )


async def put_predictions(
    sessions: Sessions, run_id: str, rows: list[dict[str, Any]], update: bool = False
) -> UpsertCounts:
    async with transaction(sessions) as session:
        return await uploads.upsert_predictions(
            session, model_run_id=run_id, predictions=rows, update=update, max_rows=MAX_ROWS
        )


async def dataset_version(sessions: Sessions) -> int:
    return int((await fetch_all(sessions, Dataset))[0].annotations_version)


async def test_items_upsert_counts_and_update(sessions: Sessions) -> None:
    dataset_id = await setup_dataset(sessions, ["a", "b"])
    rows = [
        item("a", url="s3://a.jpg", width=640, height=480, metadata={"weather": "rain"}),
        item("c"),
    ]
    async with transaction(sessions) as session:
        first = await uploads.upsert_items(
            session, dataset_id=dataset_id, items=rows, update=False, max_rows=MAX_ROWS
        )
    assert first == UpsertCounts(new=1, updated=0, ignored=1)
    stored = {i.reference_id: i for i in await fetch_all(sessions, Item)}
    assert stored["a"].url is None  # update=False keeps the existing row
    async with transaction(sessions) as session:
        second = await uploads.upsert_items(
            session, dataset_id=dataset_id, items=rows, update=True, max_rows=MAX_ROWS
        )
    assert second == UpsertCounts(new=0, updated=1, ignored=1)  # "c" is identical
    stored = {i.reference_id: i for i in await fetch_all(sessions, Item)}
    assert (stored["a"].url, stored["a"].width, stored["a"].height) == ("s3://a.jpg", 640, 480)
    assert stored["a"].metadata_ == {"weather": "rain"}
    async with transaction(sessions) as session:
        third = await uploads.upsert_items(
            session, dataset_id=dataset_id, items=rows, update=True, max_rows=MAX_ROWS
        )
    assert third == UpsertCounts(new=0, updated=0, ignored=2)


async def test_annotations_are_idempotent_and_replace_on_update(sessions: Sessions) -> None:
    dataset_id = await setup_dataset(sessions, ["a", "b"])
    rows = [
        annotation("a", "1", box=box(1, 2, 3, 4), metadata={"color": "red"}),
        annotation("a", "2", label="bus", polygon={"vertices": pts((0, 0), (4, 0), (4, 3))}),
        annotation("b", "1", iscrowd=True, classifications=[{"name": "color", "value": "orange"}]),
    ]
    assert await put_annotations(sessions, dataset_id, rows) == UpsertCounts(3, 0, 0)
    assert await dataset_version(sessions) == 1
    assert await put_annotations(sessions, dataset_id, rows) == UpsertCounts(0, 0, 3)
    assert await put_annotations(sessions, dataset_id, rows, update=True) == UpsertCounts(0, 0, 3)
    assert await dataset_version(sessions) == 1  # nothing changed, nothing bumped

    changed = [annotation("a", "1", box=box(1, 2, 30, 4)), rows[1], annotation("b", "2")]
    assert await put_annotations(sessions, dataset_id, changed) == UpsertCounts(1, 0, 2)
    assert await put_annotations(sessions, dataset_id, changed, update=True) == UpsertCounts(
        0, 1, 2
    )
    assert await dataset_version(sessions) == 3

    stored = {(a.item_id, a.annotation_id): a for a in await fetch_all(sessions, Annotation)}
    items = {i.reference_id: i.id for i in await fetch_all(sessions, Item)}
    first = stored[(items["a"], "1")]
    assert first.type == "BOX"
    assert first.geometry == {"x": 1.0, "y": 2.0, "width": 30.0, "height": 4.0, "rotation": 0.0}
    assert first.area == 120.0
    assert first.metadata_ is None  # replaced whole, as sent
    polygon = stored[(items["a"], "2")]
    assert (polygon.type, polygon.label, polygon.area) == ("POLYGON", "bus", 6.0)
    assert polygon.geometry == {"vertices": [[0.0, 0.0], [4.0, 0.0], [4.0, 3.0]], "holes": []}
    crowd = stored[(items["b"], "1")]
    assert crowd.iscrowd is True
    assert crowd.classifications == [{"name": "color", "value": "orange"}]
    assert len(stored) == 4


async def test_predictions_counts_order_and_versions(sessions: Sessions) -> None:
    dataset_id = await setup_dataset(sessions, ["a", "b"])
    run_id = await setup_run(sessions, dataset_id)
    rows = [
        prediction("b", "p1", confidence=0.3, class_pdf={"car": 0.7, "bus": 0.3}),
        prediction("a", "p1", confidence=None, custom_metrics=[{"name": "iou", "value": 0.5}]),
        prediction("a", "p2", label="bus", box=None),  # a category prediction
    ]
    assert await put_predictions(sessions, run_id, rows) == UpsertCounts(3, 0, 0)
    assert await put_predictions(sessions, run_id, rows) == UpsertCounts(0, 0, 3)
    assert await put_predictions(sessions, run_id, rows, update=True) == UpsertCounts(0, 0, 3)
    (run,) = await fetch_all(sessions, ModelRun)
    assert run.data_version == 1
    stored = await fetch_all(sessions, Prediction)
    items = {i.id: i.reference_id for i in await fetch_all(sessions, Item)}
    # Row id order is upload order (COCO breaks score ties by it).
    assert [(items[p.item_id], p.annotation_id) for p in stored] == [
        ("b", "p1"),
        ("a", "p1"),
        ("a", "p2"),
    ]
    assert stored[0].confidence == 0.3 and stored[0].class_pdf == {"car": 0.7, "bus": 0.3}
    assert stored[1].confidence is None and stored[1].custom_metrics == [
        {"name": "iou", "value": 0.5}
    ]
    assert (stored[2].type, stored[2].geometry, stored[2].area) == ("CATEGORY", None, None)

    rows[0] = prediction("b", "p1", confidence=0.8)
    assert await put_predictions(sessions, run_id, rows, update=True) == UpsertCounts(0, 1, 2)
    (run,) = await fetch_all(sessions, ModelRun)
    assert run.data_version == 2
    again = await fetch_all(sessions, Prediction)
    assert again[0].id == stored[0].id and again[0].confidence == 0.8 and again[0].class_pdf is None


async def test_the_same_annotation_id_on_two_items_is_two_rows(sessions: Sessions) -> None:
    dataset_id = await setup_dataset(sessions, ["a", "b"])
    counts = await put_annotations(
        sessions, dataset_id, [annotation("a", "1"), annotation("b", "1")]
    )
    assert counts == UpsertCounts(2, 0, 0)


async def test_bad_batch_reports_every_issue_and_writes_nothing(sessions: Sessions) -> None:
    dataset_id = await setup_dataset(sessions, ["a", "b"])
    await put_annotations(sessions, dataset_id, [annotation("a", "0")])
    before = await row_counts(sessions)
    rows = [
        annotation("a", "1"),  # fine, but the batch is refused whole
        annotation("a", "2", box=box(width=-1)),
        annotation("zzz", "3"),
        annotation("b", "4", polygon={"vertices": pts((0, 0), (2, 2), (2, 0), (0, 2))}),
        annotation("a", "1"),
        annotation("nope", "5", label=""),
        annotation("b", "6", segmentation={"rle": {"counts": [1, 2], "size": [2, 2]}}),
        annotation("b", "7", metadata="not an object"),
    ]
    with pytest.raises(InvalidInput) as info:
        await put_annotations(sessions, dataset_id, rows, update=True)
    assert sorted(issue.path for issue in info.value.issues) == [
        "annotations[1].box.width",
        "annotations[2].referenceId",
        "annotations[3].polygon",
        "annotations[4].annotationId",
        "annotations[5].label",
        "annotations[5].referenceId",
        "annotations[6].segmentation.rle.counts",
        "annotations[7].metadata",
    ]
    assert await row_counts(sessions) == before
    assert await dataset_version(sessions) == 1


async def test_bad_prediction_batch_writes_nothing(sessions: Sessions) -> None:
    dataset_id = await setup_dataset(sessions, ["a"])
    run_id = await setup_run(sessions, dataset_id)
    before = await row_counts(sessions)
    rows = [
        prediction("a", "1"),
        prediction("a", "2", confidence=1.01),
        prediction("a", "3", class_pdf={"car": 0.5}),
        prediction("a", "4", custom_metrics=[{"name": "x", "value": 1}, {"name": "x", "value": 2}]),
        prediction("a", "5", box=box(x=math.inf)),
        prediction("ghost", "6"),
    ]
    with pytest.raises(InvalidInput) as info:
        await put_predictions(sessions, run_id, rows)
    assert [issue.path for issue in info.value.issues] == [
        "predictions[1].confidence",
        "predictions[2].classPdf",
        "predictions[3].customMetrics[1].name",
        "predictions[4].box.x",
        "predictions[5].referenceId",
    ]
    assert await row_counts(sessions) == before


async def test_row_limit_is_refused_on_the_argument_path(sessions: Sessions) -> None:
    dataset_id = await setup_dataset(sessions, ["a"])
    rows = [annotation("a", str(i)) for i in range(3)]
    async with transaction(sessions) as session:
        with pytest.raises(InvalidInput) as info:
            await uploads.upsert_annotations(
                session, dataset_id=dataset_id, annotations=rows, update=False, max_rows=2
            )
    assert [(i.path, "2" in i.message) for i in info.value.issues] == [("annotations", True)]


@pytest.mark.parametrize("raw_id", ["999", "abc", "-1", ""])
async def test_unknown_dataset_and_run_are_not_found(sessions: Sessions, raw_id: str) -> None:
    async with transaction(sessions) as session:
        with pytest.raises(NotFound) as info:
            await uploads.upsert_annotations(
                session, dataset_id=raw_id, annotations=[], update=False, max_rows=MAX_ROWS
            )
        assert info.value.path == "datasetId"
        with pytest.raises(NotFound) as info:
            await uploads.upsert_predictions(
                session, model_run_id=raw_id, predictions=[], update=False, max_rows=MAX_ROWS
            )
        assert info.value.path == "modelRunId"


async def test_error_rolls_back_the_whole_transaction(sessions: Sessions) -> None:
    dataset_id = await setup_dataset(sessions, ["a"])
    before = await row_counts(sessions)
    with pytest.raises(InvalidInput):
        async with transaction(sessions) as session:
            await add_annotations(session, dataset_id, annotation("a", "1"))
            await add_annotations(session, dataset_id, annotation("a", "2", label=""))
    assert await row_counts(sessions) == before
    assert await dataset_version(sessions) == 0


async def test_empty_batch_changes_nothing(sessions: Sessions) -> None:
    dataset_id = await setup_dataset(sessions, [])
    assert await put_annotations(sessions, dataset_id, []) == UpsertCounts(0, 0, 0)
    assert await dataset_version(sessions) == 0


EVERY_FAMILY = [
    annotation("a", "box", box=box(0.1, 0.2, 0.30000000000000004, 7, rotation=0.25)),
    annotation(
        "a",
        "polygon",
        polygon={
            "vertices": pts((0, 0), (10, 0), (10, 10), (0, 10)),
            "holes": [pts((2, 2), (4, 2), (4, 4))],
        },
    ),
    annotation("a", "polyline", polyline={"vertices": pts((0, 0), (1.5, 2.5))}),
    annotation(
        "a",
        "keypoints",
        keypoints={
            "points": [
                {"x": 1, "y": 2, "visibility": 2, "name": "nose"},
                {"x": 3, "y": 5, "visibility": 1},
            ],
            "skeleton": [[0, 1]],
        },
    ),
    annotation("a", "rle", segmentation={"rle": {"counts": [3, 4, 5], "size": [3, 4]}}),
    annotation("a", "mask", segmentation={"polygons": [{"vertices": pts((0, 0), (4, 0), (4, 4))}]}),
    annotation(
        "a",
        "cuboid",
        cuboid={
            "position": {"x": 1, "y": 2, "z": 3},
            "dimensions": {"x": 4, "y": 5, "z": 6},
            "yaw": 0.1,
        },
    ),
    annotation("a", "category", box=None),
]


async def test_every_geometry_round_trips_and_resending_is_ignored(sessions: Sessions) -> None:
    dataset_id = await setup_dataset(sessions, ["a"])
    assert await put_annotations(sessions, dataset_id, EVERY_FAMILY) == UpsertCounts(8, 0, 0)
    stored = {a.annotation_id: a for a in await fetch_all(sessions, Annotation)}
    assert stored["box"].geometry == {
        "x": 0.1,
        "y": 0.2,
        "width": 0.30000000000000004,
        "height": 7.0,
        "rotation": 0.25,
    }
    assert stored["polygon"].area == 98.0
    assert stored["polyline"].geometry == {"vertices": [[0.0, 0.0], [1.5, 2.5]]}
    assert stored["keypoints"].geometry == {
        "points": [[1.0, 2.0, 2], [3.0, 5.0, 1]],
        "names": ["nose", None],
        "skeleton": [[0, 1]],
    }
    assert (
        stored["rle"].geometry == {"rle": {"counts": "345", "size": [3, 4]}}
        and stored["rle"].area == 4.0
    )
    assert stored["mask"].geometry == {
        "polygons": [{"vertices": [[0.0, 0.0], [4.0, 0.0], [4.0, 4.0]], "holes": []}]
    }
    assert stored["cuboid"].geometry == {
        "position": [1.0, 2.0, 3.0],
        "dimensions": [4.0, 5.0, 6.0],
        "yaw": 0.1,
    }
    assert stored["cuboid"].area == 20.0
    assert (stored["category"].type, stored["category"].geometry) == ("CATEGORY", None)
    assert {a.type for a in stored.values()} == {
        "BOX",
        "POLYGON",
        "POLYLINE",
        "KEYPOINTS",
        "SEGMENTATION",
        "CUBOID",
        "CATEGORY",
    }
    # What came back from the database compares equal to a fresh validation of the same rows.
    assert await put_annotations(sessions, dataset_id, EVERY_FAMILY, update=True) == UpsertCounts(
        0, 0, 8
    )


CROWD = 300  # rows already on item "a" that a later batch does not name


async def test_annotation_counts_on_an_item_holding_many_others(sessions: Sessions) -> None:
    """The existence check reads the batch's keys, not the item's other rows: counts stay exact."""
    dataset_id = await setup_dataset(sessions, ["a", "b"])
    crowd = [annotation("a", f"old-{i}", box=box(i, 0, 5, 5)) for i in range(CROWD)]
    assert await put_annotations(sessions, dataset_id, crowd) == UpsertCounts(CROWD, 0, 0)
    batch = [
        crowd[7],  # identical
        annotation("a", "old-8", box=box(99, 0, 5, 5)),  # changed
        annotation("a", "fresh"),
        annotation("b", "old-9"),  # the same annotationId on another item is another row
    ]
    assert await put_annotations(sessions, dataset_id, batch) == UpsertCounts(2, 0, 2)
    batch[2] = annotation("a", "fresh", label="bus")
    assert await put_annotations(sessions, dataset_id, batch, update=True) == UpsertCounts(0, 2, 2)
    assert await put_annotations(sessions, dataset_id, batch, update=True) == UpsertCounts(0, 0, 4)
    stored = {(a.item_id, a.annotation_id): a for a in await fetch_all(sessions, Annotation)}
    items = {i.reference_id: i.id for i in await fetch_all(sessions, Item)}
    assert len(stored) == CROWD + 2
    assert stored[(items["a"], "old-8")].geometry["x"] == 99.0
    assert stored[(items["a"], "old-9")].geometry["x"] == 9.0  # untouched
    assert stored[(items["a"], "fresh")].label == "bus"


async def test_prediction_counts_on_an_item_holding_many_others(sessions: Sessions) -> None:
    """As above for predictions, with another run holding the very same keys on the item."""
    dataset_id = await setup_dataset(sessions, ["a", "b"])
    run_id = await setup_run(sessions, dataset_id)
    other_run_id = await setup_run(sessions, dataset_id, reference_id="m2")
    crowd = [prediction("a", f"p-{i}", confidence=i / CROWD) for i in range(CROWD)]
    assert await put_predictions(sessions, run_id, crowd) == UpsertCounts(CROWD, 0, 0)
    shadow = [prediction("a", f"p-{i}", label="bus") for i in range(CROWD, CROWD + 5)]
    assert await put_predictions(sessions, other_run_id, shadow) == UpsertCounts(5, 0, 0)
    batch = [
        crowd[3],  # identical
        prediction("a", "p-4", confidence=0.999),  # changed
        prediction("a", f"p-{CROWD}", label="bus"),  # exists in the other run only: new here
        prediction("b", "p-5"),  # another item: new
    ]
    assert await put_predictions(sessions, run_id, batch) == UpsertCounts(2, 0, 2)
    assert await put_predictions(sessions, run_id, batch, update=True) == UpsertCounts(0, 1, 3)
    assert await put_predictions(sessions, run_id, batch, update=True) == UpsertCounts(0, 0, 4)
    assert await put_predictions(sessions, other_run_id, shadow) == UpsertCounts(0, 0, 5)
    by_run: dict[int, int] = {}
    stored = await fetch_all(sessions, Prediction)
    for p in stored:
        by_run[p.model_run_id] = by_run.get(p.model_run_id, 0) + 1
    assert sorted(by_run.values()) == [5, CROWD + 2]
    changed = [p for p in stored if p.annotation_id == "p-4"]
    assert [p.confidence for p in changed] == [0.999]
