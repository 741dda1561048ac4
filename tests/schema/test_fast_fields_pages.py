"""The app's own schema answers item pages identically with and without inline completion
(schema/fast_fields.py) and the annotations read ahead by ``Dataset.items``: every geometry
family, aliases, fragments, ``__typename``, both backends."""

from __future__ import annotations

import json
from typing import Any

import strawberry

from sliceboard.runtime import Runtime
from sliceboard.schema.context import Context
from sliceboard.schema.schema import build_schema
from sliceboard.storage.db import transaction
from tests.services.test_uploads import EVERY_FAMILY
from tests.support.factories import add_annotations, setup_dataset

GEOMETRY = """
  __typename
  ... on Box { x y width height rotation }
  ... on Polygon { vertices { x y } holes { x y } }
  ... on Polyline { vertices { y x } }
  ... on Keypoints { points { x y visibility name } skeleton }
  ... on Segmentation { rle { counts size } polygons { vertices { x y } } }
  ... on Cuboid { position { x y z } dimensions { x y z } yaw }
"""
PAGE = f"""
fragment Shape on Annotation {{ kind: type geometry {{ {GEOMETRY} }} }}
query($d: ID!, $after: String) {{ dataset(id: $d) {{
  items(first: 2, after: $after) {{
    totalCount pageInfo {{ hasNextPage endCursor }}
    edges {{ cursor node {{ __typename id referenceId url width height metadata
      annotations {{ id annotationId label iscrowd area metadata classifications {{ name value }}
        ...Shape again: geometry {{ __typename }} }}
      firstTwo: annotationsConnection(first: 2) {{ edges {{ node {{ annotationId ...Shape }} }} }}
    }} }} }} }} }}
"""


async def _answers(runtime: Runtime, schema: strawberry.Schema, dataset_id: str) -> list[Any]:
    pages, after = [], None
    while True:
        result = await schema.execute(
            PAGE,
            variable_values={"d": dataset_id, "after": after},
            context_value=Context.create(runtime),
        )
        assert result.errors is None, result.errors
        pages.append(result.data)
        info = result.data["dataset"]["items"]["pageInfo"]  # type: ignore[index]
        if not info["hasNextPage"]:
            return pages
        after = info["endCursor"]


async def test_item_pages_equal_strawberrys_own_answer(runtime: Runtime) -> None:
    dataset_id = await setup_dataset(runtime.sessions, ["a", "b", "c", "empty"])
    rows = [
        {**row, "reference_id": ref, "annotation_id": f"{ref}-{row['annotation_id']}"}
        for ref in ("a", "b", "c")
        for row in EVERY_FAMILY
    ]
    rows[0] = {
        **rows[0],
        "metadata": {"k": [1, {"n": None}]},
        "classifications": [{"name": "c", "value": "v"}],
    }
    async with transaction(runtime.sessions) as session:
        await add_annotations(session, dataset_id, *rows)
    fast = await _answers(runtime, build_schema(runtime.settings), dataset_id)
    plain = await _answers(runtime, build_schema(runtime.settings, fast=False), dataset_id)
    assert json.dumps(fast) == json.dumps(plain)
    kinds = {
        a["kind"] for page in fast for edge in page["dataset"]["items"]["edges"]
        for a in edge["node"]["annotations"]
    }  # fmt: skip
    assert len(kinds) >= 6, kinds  # every family reached the comparison
