"""Documents that could do unbounded work are refused before they run (issue 11 §1)."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLObjectType, get_nullable_type, is_list_type, parse

from sliceboard.config import Settings
from sliceboard.schema.cost import (
    BOUNDED_LISTS,
    CATALOG_LISTS,
    GROWING_LISTS,
    VALUE_LISTS,
    measure,
)
from sliceboard.schema.schema import build_schema

NESTED_PREDICTIONS = """{ dataset(name: "d") { items(first: 100) { edges { node {
  predictions(modelRunId: "1") { item { predictions(modelRunId: "1") { item {
  predictions(modelRunId: "1") { item { predictions(modelRunId: "1") { item {
  predictions(modelRunId: "1") { id } } } } } } } } } } } } } }"""

METRICS = (
    "m{i}: metrics(iouThreshold: 0.5) {{ precisionRecallCurve {{ recall precision confidence }} }}"
)
THIRTY_CURVES = '{ modelRun(id: "1") { ' + " ".join(METRICS.format(i=i) for i in range(30)) + " } }"

ITEM_PAGE = """query($n: Int) { dataset(name: "d") { items(first: $n) { edges { node {
  referenceId annotations { label } predictions(modelRunId: "1") { label } } } } } }"""


def _cost(query: str, variables: dict[str, Any] | None = None, **settings: Any) -> Any:
    schema = build_schema(Settings(**settings))._schema
    return measure(
        schema,
        parse(query),
        operation_name=None,
        variables=variables,
        max_list_items=Settings(**settings).max_list_items,
    )


async def test_nested_predictions_are_refused_before_execution(execute_sqlite: Any) -> None:
    assert len(NESTED_PREDICTIONS.encode()) < 400
    data, errors = await execute_sqlite.run(NESTED_PREDICTIONS)
    assert data is None
    [error] = errors
    assert error["extensions"]["code"] == "LIMIT_EXCEEDED"
    assert error["extensions"]["limit"] == 250_000
    assert error["extensions"]["nodes"] > 10**15
    assert "250,000" in error["message"]


async def test_thirty_aliased_curves_are_refused_before_execution(execute_sqlite: Any) -> None:
    data, errors = await execute_sqlite.run(THIRTY_CURVES)
    assert data is None
    [error] = errors
    assert error["extensions"] == {"code": "LIMIT_EXCEEDED", "cost": 30 * 35, "limit": 300}
    assert "1,050" in error["message"] and "300" in error["message"]


async def test_a_page_of_items_with_their_annotations_runs(execute_sqlite: Any) -> None:
    data, errors = await execute_sqlite.run(ITEM_PAGE, {"n": 100})
    assert errors == []
    assert data == {"dataset": None}


def test_a_page_multiplies_what_is_under_its_edges() -> None:
    # 100 edges (each an item) + 100 x 1,000 annotations + 100 x 1,000 predictions
    assert _cost(ITEM_PAGE, {"n": 100}).nodes == 100 + 2 * 100 * 1_000
    assert _cost(ITEM_PAGE, {"n": 10}).nodes == 10 + 2 * 10 * 1_000
    assert _cost(ITEM_PAGE).nodes == 20 + 2 * 20 * 1_000  # the default page
    assert _cost(ITEM_PAGE, {"n": 10}, max_list_items=50).nodes == 10 + 2 * 10 * 50


def test_fragments_and_aliases_count_each_use() -> None:
    query = """{ modelRun(id: "1") { a: metrics { ...m } b: metrics { ...m } } }
               fragment m on MetricsReport { coco { ap } perLabel { label } }"""
    measured = _cost(query)
    assert measured.cost == 2 * (10 + 2 + 5)
    assert measured.nodes == 2 * 1_000


def test_a_metric_under_a_list_costs_once_per_element() -> None:
    query = '{ dataset(name: "d") { modelRuns { metrics { coco { ap } } } } }'
    assert _cost(query).cost == 100 * (10 + 2)  # runs: one page of 100


def test_nested_fragments_are_measured_in_linear_time() -> None:
    levels = 40
    fragments = " ".join(
        f"fragment f{i} on Query {{ a: datasets(first: 1) {{ edges {{ node {{ id }} }} }} ...f{i + 1} ...f{i + 1} }}"
        for i in range(levels)
    )
    query = f"{{ ...f0 }} {fragments} fragment f{levels} on Query {{ datasets(first: 1) {{ edges {{ node {{ id }} }} }} }}"
    assert _cost(query).nodes == 2**levels * 1 + sum(2**i for i in range(levels))


def test_every_list_in_the_schema_is_counted_on_purpose() -> None:
    """A new list field must say whether it grows with the data (and is cut) or not."""
    schema = build_schema()._schema
    unclassified = []
    for type_ in schema.type_map.values():
        if not isinstance(type_, GraphQLObjectType) or type_.name.startswith("__"):
            continue
        for name, field in type_.fields.items():
            if not is_list_type(get_nullable_type(field.type)):
                continue
            if type_.name.endswith("Connection") and name == "edges":
                continue
            if (type_.name, name) not in GROWING_LISTS | CATALOG_LISTS | VALUE_LISTS | set(
                BOUNDED_LISTS
            ):
                unclassified.append(f"{type_.name}.{name}")
    assert unclassified == []


def test_catalog_lists_count_one_page() -> None:
    query = '{ dataset(name: "d") { modelRuns { model { runs { slices: dataset { slices { id } } } } } } }'
    assert _cost(query).nodes == 100 + 100 * 100 + 100 * 100 * 100


def test_lists_inside_a_value_count_nothing() -> None:
    geometry = "geometry { ... on Polygon { vertices { x } holes { x } } ... on Keypoints { points { x } } }"
    query = f'{{ dataset(name: "d") {{ items(first: 10) {{ edges {{ node {{ annotations {{ {geometry} }} }} }} }} }} }}'
    assert _cost(query).nodes == 10 + 10 * 1_000
