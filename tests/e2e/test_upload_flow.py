"""Upload every geometry over HTTP and read it all back, on both backends."""

from __future__ import annotations

from typing import Any

from tests.support.graphql import GraphQLClient

GEOMETRY = """
  __typename
  ... on Box { x y width height rotation }
  ... on Polygon { vertices { x y } holes { x y } }
  ... on Polyline { vertices { x y } }
  ... on Keypoints { points { x y visibility name } skeleton }
  ... on Segmentation { rle { counts size } polygons { vertices { x y } holes { x y } } }
  ... on Cuboid { position { x y z } dimensions { x y z } yaw }
"""

SQUARE = [{"x": 0, "y": 0}, {"x": 10, "y": 0}, {"x": 10, "y": 10}, {"x": 0, "y": 10}]
HOLE = [{"x": 2, "y": 2}, {"x": 4, "y": 2}, {"x": 4, "y": 4}]

ANNOTATIONS: list[dict[str, Any]] = [
    {
        "referenceId": "img1",
        "annotationId": "box",
        "label": "car",
        "box": {"x": 1, "y": 2, "width": 3, "height": 4, "rotation": 0.5},
        "metadata": {"occluded": True},
        "classifications": [{"name": "color", "value": "red"}],
    },
    {
        "referenceId": "img1",
        "annotationId": "poly",
        "label": "road",
        "polygon": {"vertices": SQUARE, "holes": [HOLE]},
    },
    {
        "referenceId": "img1",
        "annotationId": "line",
        "label": "lane",
        "polyline": {"vertices": SQUARE[:3]},
    },
    {
        "referenceId": "img2",
        "annotationId": "kp",
        "label": "person",
        "keypoints": {
            "points": [
                {"x": 1, "y": 1, "visibility": 2, "name": "nose"},
                {"x": 3, "y": 4, "visibility": 1},
            ],
            "skeleton": [[0, 1]],
        },
    },
    {
        "referenceId": "img2",
        "annotationId": "rle",
        "label": "person",
        "iscrowd": True,
        "segmentation": {"rle": {"counts": [0, 4, 12], "size": [4, 4]}},
    },
    {
        "referenceId": "img2",
        "annotationId": "segpoly",
        "label": "road",
        "segmentation": {"polygons": [{"vertices": SQUARE}]},
    },
    {
        "referenceId": "img3",
        "annotationId": "cuboid",
        "label": "car",
        "cuboid": {
            "position": {"x": 1, "y": 2, "z": 3},
            "dimensions": {"x": 4, "y": 2, "z": 1.5},
            "yaw": 0.1,
        },
    },
    {"referenceId": "img3", "annotationId": "cat", "label": "daytime", "area": 12.5},
]


async def _upload(gql: GraphQLClient) -> dict[str, str]:
    dataset = await gql.data(
        'mutation { createDataset(input: {name: "roads", metadata: {source: "test"}}) { ... on Dataset { id } } }'
    )
    dataset_id = dataset["createDataset"]["id"]
    items = [
        {
            "referenceId": "img1",
            "url": "s3://b/1.jpg",
            "width": 640,
            "height": 480,
            "metadata": {"weather": "rain", "hour": 7},
        },
        {"referenceId": "img2", "metadata": {"weather": "sunny", "hour": 13, "tags": ["city"]}},
        {
            "referenceId": "img3",
            "metadata": {"weather": "rain", "hour": 22, "camera": {"side": "left"}},
        },
    ]
    upsert = """mutation($d: ID!, $items: [ItemInput!]!) { upsertItems(datasetId: $d, items: $items) {
      __typename ... on UpsertResult { new updated ignored } ... on InvalidInputError { issues { path message } } } }"""
    assert (await gql.data(upsert, {"d": dataset_id, "items": items}))["upsertItems"] == {
        "__typename": "UpsertResult",
        "new": 3,
        "updated": 0,
        "ignored": 0,
    }
    upsert_annotations = """mutation($d: ID!, $a: [AnnotationInput!]!) { upsertAnnotations(datasetId: $d, annotations: $a) {
      __typename ... on UpsertResult { new updated ignored } ... on InvalidInputError { issues { path message } } } }"""
    result = await gql.data(upsert_annotations, {"d": dataset_id, "a": ANNOTATIONS})
    assert result["upsertAnnotations"] == {
        "__typename": "UpsertResult",
        "new": 8,
        "updated": 0,
        "ignored": 0,
    }
    # The same batch again changes nothing.
    again = await gql.data(upsert_annotations, {"d": dataset_id, "a": ANNOTATIONS})
    assert again["upsertAnnotations"]["ignored"] == 8
    model = await gql.data(
        'mutation { createModel(input: {name: "det", referenceId: "det-v1"}) { ... on Model { id } } }'
    )
    run = await gql.data(
        'mutation($m: ID!, $d: ID!) { createModelRun(input: {modelId: $m, datasetId: $d, name: "r1"}) { ... on ModelRun { id } } }',
        {"m": model["createModel"]["id"], "d": dataset_id},
    )
    run_id = run["createModelRun"]["id"]
    predictions = [
        {
            "referenceId": "img1",
            "annotationId": "p1",
            "label": "car",
            "box": {"x": 1, "y": 2, "width": 3, "height": 4},
            "confidence": 0.9,
            "classPdf": {"car": 0.9, "truck": 0.1},
            "customMetrics": [{"name": "blur", "value": 0.25}],
        },
        {
            "referenceId": "img2",
            "annotationId": "p2",
            "label": "truck",
            "box": {"x": 0, "y": 0, "width": 2, "height": 2},
            "confidence": 0.4,
        },
    ]
    upserted = await gql.data(
        """mutation($r: ID!, $p: [PredictionInput!]!) { upsertPredictions(modelRunId: $r, predictions: $p) {
             __typename ... on UpsertResult { new } ... on InvalidInputError { issues { path message } } } }""",
        {"r": run_id, "p": predictions},
    )
    assert upserted["upsertPredictions"] == {"__typename": "UpsertResult", "new": 2}
    return {"dataset": dataset_id, "run": run_id}


async def test_everything_reads_back(gql: GraphQLClient) -> None:
    ids = await _upload(gql)
    data = (
        await gql.data(
            f"""query($d: ID!, $r: ID!) {{ dataset(id: $d) {{
          name metadata labels
          items {{ totalCount edges {{ node {{ referenceId url width height metadata
            annotations {{ annotationId label type iscrowd area metadata classifications {{ name value }}
                           geometry {{ {GEOMETRY} }} item {{ referenceId }} }}
            predictions(modelRunId: $r) {{ annotationId label confidence classPdf customMetrics {{ name value }}
                                          geometry {{ {GEOMETRY} }} }} }} }} }}
          modelRuns {{ id name model {{ referenceId runs {{ id }} }} dataset {{ name }} }}
        }} }}""",
            {"d": ids["dataset"], "r": ids["run"]},
        )
    )["dataset"]
    assert data["name"] == "roads" and data["metadata"] == {"source": "test"}
    assert data["labels"] == ["car", "daytime", "lane", "person", "road"]
    assert data["modelRuns"] == [
        {
            "id": ids["run"],
            "name": "r1",
            "model": {"referenceId": "det-v1", "runs": [{"id": ids["run"]}]},
            "dataset": {"name": "roads"},
        }
    ]
    items = {edge["node"]["referenceId"]: edge["node"] for edge in data["items"]["edges"]}
    assert data["items"]["totalCount"] == 3
    assert items["img1"]["url"] == "s3://b/1.jpg" and items["img1"]["width"] == 640
    by_key = {a["annotationId"]: a for node in items.values() for a in node["annotations"]}
    assert set(by_key) == {a["annotationId"] for a in ANNOTATIONS}
    box = by_key["box"]
    assert box["type"] == "BOX" and box["area"] == 12.0 and box["metadata"] == {"occluded": True}
    assert box["geometry"] == {
        "__typename": "Box",
        "x": 1.0,
        "y": 2.0,
        "width": 3.0,
        "height": 4.0,
        "rotation": 0.5,
    }
    assert box["classifications"] == [{"name": "color", "value": "red"}] and box["item"] == {
        "referenceId": "img1"
    }
    poly = by_key["poly"]["geometry"]
    assert (
        poly["__typename"] == "Polygon"
        and len(poly["vertices"]) == 4
        and len(poly["holes"][0]) == 3
    )
    assert by_key["poly"]["area"] == 98.0  # 100 minus the hole
    assert by_key["line"]["geometry"]["__typename"] == "Polyline" and by_key["line"]["area"] is None
    keypoints = by_key["kp"]["geometry"]
    assert keypoints["points"][0] == {"x": 1.0, "y": 1.0, "visibility": 2, "name": "nose"}
    assert keypoints["points"][1]["name"] is None and keypoints["skeleton"] == [[0, 1]]
    rle = by_key["rle"]
    assert (
        rle["iscrowd"] is True
        and rle["geometry"]["rle"]["size"] == [4, 4]
        and isinstance(rle["geometry"]["rle"]["counts"], str)
    )
    assert rle["area"] == 4.0
    assert by_key["segpoly"]["geometry"]["polygons"][0]["vertices"][2] == {"x": 10.0, "y": 10.0}
    assert by_key["cuboid"]["geometry"] == {
        "__typename": "Cuboid",
        "position": {"x": 1.0, "y": 2.0, "z": 3.0},
        "dimensions": {"x": 4.0, "y": 2.0, "z": 1.5},
        "yaw": 0.1,
    }
    assert (
        by_key["cat"]["type"] == "CATEGORY"
        and by_key["cat"]["geometry"] is None
        and by_key["cat"]["area"] == 12.5
    )
    prediction = items["img1"]["predictions"][0]
    assert prediction["confidence"] == 0.9 and prediction["classPdf"] == {"car": 0.9, "truck": 0.1}
    assert prediction["customMetrics"] == [{"name": "blur", "value": 0.25}]
    assert items["img3"]["predictions"] == []


async def test_filters_slices_and_pages(gql: GraphQLClient) -> None:
    ids = await _upload(gql)
    filtered = (
        await gql.data(
            """query($d: ID!) { dataset(id: $d) {
             rain: items(filter: {metadata: {field: "weather", op: EQ, value: "rain"}}) { totalCount edges { node { referenceId } } }
             late: items(filter: {and: [{metadata: {field: "hour", op: GTE, value: 13}}, {not: {hasAnnotationLabel: ["car"]}}]}) { edges { node { referenceId } } }
             left: items(filter: {metadata: {field: "camera.side", op: EXISTS}}) { edges { node { referenceId } } }
             trucks: items(filter: {hasPredictionLabel: ["truck"]}) { edges { node { referenceId } } }
        } }""",
            {"d": ids["dataset"]},
        )
    )["dataset"]

    def refs(connection: dict[str, Any]) -> list[str]:
        return [edge["node"]["referenceId"] for edge in connection["edges"]]

    assert refs(filtered["rain"]) == ["img1", "img3"] and filtered["rain"]["totalCount"] == 2
    assert refs(filtered["late"]) == ["img2"]
    assert refs(filtered["left"]) == ["img3"]
    assert refs(filtered["trucks"]) == ["img2"]

    create_slice = """mutation($input: CreateSliceInput!) { createSlice(input: $input) {
        __typename ... on Slice { id name filter referenceIds items { totalCount edges { node { referenceId } } } dataset { name } }
        ... on InvalidInputError { issues { path message } } } }"""
    dynamic = await gql.data(
        create_slice,
        {
            "input": {
                "datasetId": ids["dataset"],
                "name": "rainy",
                "filter": {"metadata": {"field": "weather", "op": "EQ", "value": "rain"}},
            }
        },
    )
    assert dynamic["createSlice"]["filter"] == {
        "metadata": {"field": "weather", "op": "EQ", "value": "rain"}
    }
    assert refs(dynamic["createSlice"]["items"]) == ["img1", "img3"]
    fixed = await gql.data(
        create_slice,
        {"input": {"datasetId": ids["dataset"], "name": "two", "referenceIds": ["img2", "img3"]}},
    )
    assert (
        fixed["createSlice"]["referenceIds"] == ["img2", "img3"]
        and fixed["createSlice"]["items"]["totalCount"] == 2
    )
    bad = await gql.data(
        create_slice,
        {
            "input": {
                "datasetId": ids["dataset"],
                "name": "bad",
                "filter": {"metadata": {"field": "x y", "op": "EQ", "value": 1}},
            }
        },
    )
    assert bad["createSlice"]["__typename"] == "InvalidInputError"
    assert bad["createSlice"]["issues"][0]["path"] == "input.filter.metadata.field"
    # A new matching item joins the dynamic slice; the fixed one stays as it was.
    await gql.data(
        'mutation($d: ID!) { upsertItems(datasetId: $d, items: [{referenceId: "img4", metadata: {weather: "rain"}}]) { __typename } }',
        {"d": ids["dataset"]},
    )
    slices = await gql.data(
        "query($d: ID!) { dataset(id: $d) { slices { name items { totalCount } } } }",
        {"d": ids["dataset"]},
    )
    assert slices["dataset"]["slices"] == [
        {"name": "rainy", "items": {"totalCount": 3}},
        {"name": "two", "items": {"totalCount": 2}},
    ]

    # Walk the items two at a time with the cursors.
    seen: list[str] = []
    after = None
    while True:
        page = await gql.data(
            "query($d: ID!, $after: String) { dataset(id: $d) { items(first: 2, after: $after) { totalCount "
            "pageInfo { hasNextPage hasPreviousPage endCursor } edges { cursor node { referenceId } } } } }",
            {"d": ids["dataset"], "after": after},
        )
        connection = page["dataset"]["items"]
        assert connection["totalCount"] == 4
        seen += refs(connection)
        assert connection["pageInfo"]["hasPreviousPage"] is (after is not None)
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert seen == ["img1", "img2", "img3", "img4"]

    predictions = (
        await gql.data(
            """query($r: ID!) { modelRun(id: $r) {
             all: predictions { totalCount edges { node { annotationId item { referenceId } } } }
             sure: predictions(filter: {confidenceRange: {min: 0.5}}) { edges { node { annotationId } } }
             trucks: predictions(filter: {labels: ["truck"], items: {metadata: {field: "weather", op: EQ, value: "sunny"}}}) { totalCount }
        } }""",
            {"r": ids["run"]},
        )
    )["modelRun"]
    assert predictions["all"]["totalCount"] == 2
    assert [e["node"]["annotationId"] for e in predictions["sure"]["edges"]] == ["p1"]
    assert predictions["trucks"]["totalCount"] == 1
    body = await gql.post(
        'query($r: ID!) { modelRun(id: $r) { predictions(filter: {items: {metadata: {field: "a b", op: EXISTS}}}) { totalCount } } }',
        {"r": ids["run"]},
    )
    assert body["errors"][0]["extensions"]["issues"][0]["path"] == "filter.items.metadata.field"


async def test_labels_and_delete(gql: GraphQLClient) -> None:
    ids = await _upload(gql)
    labels = await gql.data(
        'mutation($r: ID!) { upsertLabels(modelRunId: $r, annotationIds: ["box", "nope"]) { __typename ... on InvalidInputError { issues { path } } } }',
        {"r": ids["run"]},
    )
    assert labels["upsertLabels"] == {
        "__typename": "InvalidInputError",
        "issues": [{"path": "annotationIds[1]"}],
    }
    labels = await gql.data(
        'mutation($r: ID!) { upsertLabels(modelRunId: $r, annotationIds: ["box"]) { __typename ... on ModelRun { id } } }',
        {"r": ids["run"]},
    )
    assert labels["upsertLabels"] == {"__typename": "ModelRun", "id": ids["run"]}
    deleted = await gql.data(
        "mutation($d: ID!) { deleteDataset(id: $d) { __typename ... on Deleted { id } } }",
        {"d": ids["dataset"]},
    )
    assert deleted["deleteDataset"] == {"__typename": "Deleted", "id": ids["dataset"]}
    after = await gql.data(
        "query($d: ID!, $r: ID!) { dataset(id: $d) { id } modelRun(id: $r) { id } datasets { totalCount } }",
        {"d": ids["dataset"], "r": ids["run"]},
    )
    assert after == {"dataset": None, "modelRun": None, "datasets": {"totalCount": 0}}
