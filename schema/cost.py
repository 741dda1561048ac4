"""What a GraphQL document may cost, measured on the document before anything runs.

In the manner of GitHub's node limit, two figures, each the most the document can reach
whatever the data:

    nodes   objects the answer's lists may hold. Each element of a list of objects counts once
            per place the list can appear; a list multiplies everything below it by its bound:
              - a connection's ``edges`` by its ``first`` (default 20, at most
                ``Settings.max_page_size``);
              - an unpaged list that grows with the data (``GROWING_LISTS``) by
                ``Settings.max_list_items``, and one of things users create one by one
                (``CATALOG_LISTS``: slices, runs, jobs) by ``Settings.max_page_size``,
                where their resolvers cut them;
              - any other list (geometry vertices, a metric's features) is part of its
                parent's value and counts as one.
    cost    the fields computed from an evaluation (``WEIGHTS``), each its weight times the
            number of places it can appear.

Aliases count each, fragments are expanded, ``@skip``/``@include`` are ignored: the figures are
upper bounds. Both are linear in the number of places a selection appears, so a fragment is
measured once per (type, page size) and scaled, and a document of nested fragments costs
linear time to measure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_composite_type,
    is_list_type,
)

DEFAULT_PAGE_SIZE = 20

GROWING_LISTS: frozenset[tuple[str, str]] = frozenset(
    {
        ("Item", "annotations"),
        ("Item", "predictions"),
        ("ModelRun", "customMetrics"),
        ("MetricsReport", "perLabel"),
        ("MetricsReport", "precisionRecallCurve"),
        ("SegmentationMetrics", "perLabel"),
        ("SegmentationMetrics", "segmentsPerLabel"),
        ("MetricIntervals", "perLabel"),
        ("RunDelta", "perLabel"),
    }
)
"""Unpaged lists whose length grows with the data: counted at ``Settings.max_list_items``."""

CATALOG_LISTS: frozenset[tuple[str, str]] = frozenset(
    {
        ("Dataset", "slices"),
        ("Dataset", "modelRuns"),
        ("Model", "runs"),
        ("ModelRun", "jobs"),
        # cut at SLICEBOARD_MAX_REGRESSION_GROUPS (default 50) groups
        ("RunDelta", "regressions"),
    }
)
"""Unpaged lists of things a user creates one by one: one page long, ``Settings.max_page_size``."""

VALUE_LISTS: frozenset[tuple[str, str]] = frozenset(
    {
        ("AggregatedMetric", "byConfidence"),
        ("AggregatedMetric", "byFeature"),
        ("FeatureMetric", "bySubclass"),
        ("FeatureMetric", "byConfidence"),
        ("SubclassMetric", "byConfidence"),
        ("Annotation", "classifications"),
        ("Prediction", "classifications"),
        ("Prediction", "customMetrics"),
        ("ConfusionMatrix", "labels"),
        ("ConfusionMatrix", "counts"),
        ("InvalidInputError", "issues"),
        ("Job", "issues"),  # at most max_import_issues strings
        ("Keypoints", "points"),
        ("Keypoints", "skeleton"),
        ("Polygon", "vertices"),
        ("Polygon", "holes"),
        ("Polyline", "vertices"),
        ("Rle", "size"),
        ("Segmentation", "polygons"),
        ("Slice", "referenceIds"),
        ("Dataset", "labels"),
        ("Viewer", "datasetIds"),
        ("ApiKey", "datasetIds"),
        ("SemanticSegmentation", "segments"),
        ("SegmentationMetrics", "labels"),
        ("PixelConfusionMatrix", "labels"),
        ("PixelConfusionMatrix", "counts"),
        ("SegmentConfusionMatrix", "labels"),
        ("SegmentConfusionMatrix", "counts"),
    }
)
"""Lists that count as one: part of their parent's value (bounded by what an upload may hold),
or of strings (nothing can nest below them)."""

BOUNDED_LISTS: dict[tuple[str, str], int] = {
    ("RunComparison", "candidates"): 7,  # compareRuns takes at most 8 runs, one the baseline
    ("RunComparison", "staleRuns"): 8,
}
"""Lists whose length the API bounds by a fixed number."""

WEIGHTS: dict[tuple[str, str], int] = {
    ("ModelRun", "metrics"): 10,
    ("ModelRun", "customMetrics"): 10,
    ("ModelRun", "confusionPredictions"): 10,
    ("ModelRun", "confusionMisses"): 10,
    ("MetricsReport", "coco"): 2,
    ("MetricsReport", "perLabel"): 5,
    ("MetricsReport", "confusionMatrix"): 10,
    ("MetricsReport", "precisionRecallCurve"): 25,
    ("MetricsReport", "segmentation"): 5,
    ("SegmentationMetrics", "falsePositiveSegments"): 2,
    ("SegmentationMetrics", "falseNegativeSegments"): 2,
    # a bootstrap: every metric of every label under each resample
    ("MetricsReport", "intervals"): 50,
    ("Query", "compareRuns"): 20,
    ("RunDelta", "overall"): 5,
    ("RunDelta", "perLabel"): 5,
    ("RunDelta", "objects"): 2,
    ("RunDelta", "regressions"): 20,
}
"""Fields computed from an evaluation or aggregated over a slice, by what they cost to answer."""


@dataclass(frozen=True)
class Cost:
    nodes: int
    cost: int

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.nodes + other.nodes, self.cost + other.cost)

    def __mul__(self, times: int) -> Cost:
        return Cost(self.nodes * times, self.cost * times)


NOTHING = Cost(0, 0)


def is_connection(type_name: str) -> bool:
    return type_name.endswith("Connection")


class _Measure:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, Any],
        max_list_items: int,
        max_page_size: int,
    ) -> None:
        self.schema = schema
        self.max_page_size = max_page_size
        self.fragments = fragments
        self.variables = variables
        self.max_list_items = max_list_items
        self.memo: dict[tuple[int, str, int], Cost] = {}

    def selections(self, parent: Any, selection_set: SelectionSetNode, page: int) -> Cost:
        """The cost of ``selection_set`` on one ``parent`` object (``page``: its ``first``)."""
        key = (id(selection_set), parent.name, page)
        if key not in self.memo:
            self.memo[key] = NOTHING  # a cycle (invalid documents only) costs nothing more
            total = NOTHING
            for selection in selection_set.selections:
                total += self.selection(parent, selection, page)
            self.memo[key] = total
        return self.memo[key]

    def selection(self, parent: Any, selection: Any, page: int) -> Cost:
        if isinstance(selection, FieldNode):
            return self.field(parent, selection, page)
        if isinstance(selection, InlineFragmentNode):
            condition = selection.type_condition
            typed = self.schema.get_type(condition.name.value) if condition else parent
            return self.selections(typed or parent, selection.selection_set, page)
        if isinstance(selection, FragmentSpreadNode):
            fragment = self.fragments.get(selection.name.value)
            if fragment is None:
                return NOTHING
            typed = self.schema.get_type(fragment.type_condition.name.value)
            return self.selections(typed or parent, fragment.selection_set, page)
        return NOTHING

    def field(self, parent: Any, node: FieldNode, page: int) -> Cost:
        name = node.name.value
        if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            return NOTHING  # __typename on a union
        definition = parent.fields.get(name)
        if definition is None or name.startswith("__"):
            return NOTHING
        own = Cost(0, WEIGHTS.get((parent.name, name), 0))
        named = get_named_type(definition.type)
        if not is_composite_type(named):
            return own
        times = self.bound(parent.name, name, definition.type, page)
        child_page = self.first(node) if is_connection(named.name) else page
        below = (
            self.selections(named, node.selection_set, child_page)
            if node.selection_set
            else NOTHING
        )
        is_value = (parent.name, name) in VALUE_LISTS
        listed = (
            Cost(1, 0)
            if is_list_type(get_nullable_type(definition.type)) and not is_value
            else NOTHING
        )
        return own + (listed + below) * times

    def bound(self, parent: str, name: str, output: Any, page: int) -> int:
        if not is_list_type(get_nullable_type(output)):
            return 1
        if is_connection(parent) and name == "edges":
            return page
        if (parent, name) in GROWING_LISTS:
            return self.max_list_items
        if (parent, name) in CATALOG_LISTS:
            return self.max_page_size
        return BOUNDED_LISTS.get((parent, name), 1)

    def first(self, node: FieldNode) -> int:
        for argument in node.arguments or ():
            if argument.name.value != "first":
                continue
            value = argument.value
            if isinstance(value, VariableNode):
                raw = self.variables.get(value.name.value)
            elif isinstance(value, IntValueNode):
                raw = int(value.value)
            else:
                raw = None
            if isinstance(raw, int) and not isinstance(raw, bool):
                return max(raw, 0)
        return DEFAULT_PAGE_SIZE


def measure(
    schema: GraphQLSchema,
    document: DocumentNode,
    *,
    operation_name: str | None,
    variables: dict[str, Any] | None,
    max_list_items: int,
    max_page_size: int = 100,
) -> Cost:
    """The most ``document``'s operation can cost (a valid document; unknown names cost 0)."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [
        op
        for op in operations
        if operation_name is None or (op.name is not None and op.name.value == operation_name)
    ]
    if not chosen:
        return NOTHING
    operation = chosen[0]
    root = schema.get_root_type(operation.operation)
    if root is None:
        return NOTHING
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    walker = _Measure(schema, fragments, variables or {}, max_list_items, max_page_size)
    return walker.selections(root, operation.selection_set, DEFAULT_PAGE_SIZE)
