"""ModelRun.confusionPredictions / confusionMisses list exactly what each confusion-matrix cell
counts (same filter and thresholds), checked against the browse fields and the boxes' IoU."""

from __future__ import annotations

from typing import Any

import pytest

from sliceboard.config import Settings
from tests.e2e.test_evaluation import evaluate, upload
from tests.support.coco_cases import make_case
from tests.support.graphql import GraphQLClient

PREDICTIONS = """
query($run: ID!, $gt: String, $dt: String!, $iou: Float, $conf: Float, $f: ItemFilter, $after: String) {
  modelRun(id: $run) {
    confusionPredictions(groundTruthLabel: $gt, predictionLabel: $dt, iouThreshold: $iou,
                         confidenceThreshold: $conf, filter: $f, first: 100, after: $after) {
      totalCount pageInfo { hasNextPage endCursor } edges { node { id label confidence item { id } } }
    }
  }
}"""
MISSES = """
query($run: ID!, $gt: String!, $iou: Float, $conf: Float, $f: ItemFilter, $after: String) {
  modelRun(id: $run) {
    confusionMisses(groundTruthLabel: $gt, iouThreshold: $iou, confidenceThreshold: $conf,
                    filter: $f, first: 100, after: $after) {
      totalCount pageInfo { hasNextPage endCursor } edges { node { id label } } }
  }
}"""
MATRIX = """
query($run: ID!, $iou: Float, $conf: Float, $f: ItemFilter) {
  modelRun(id: $run) {
    metrics(iouThreshold: $iou, confidenceThreshold: $conf, filter: $f) {
      confusionMatrix { labels counts }
    }
  }
}"""
OUTCOMES = """
query($run: ID!, $o: Outcome!, $label: String!, $iou: Float, $conf: Float, $f: ItemFilter,
      $after: String) {
  modelRun(id: $run) {
    predictions(filter: {outcome: $o, labels: [$label], confidenceRange: {min: $conf}, items: $f},
                iouThreshold: $iou, first: 100, after: $after) {
      totalCount pageInfo { hasNextPage endCursor } edges { node { id } } }
  }
}"""


@pytest.fixture
async def app_settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, run_jobs=True, job_poll_seconds=0.05)


async def ids(gql: GraphQLClient, query: str, variables: dict[str, Any]) -> list[str]:
    """Every node id of the connection, page after page."""
    found: list[str] = []
    after = None
    while True:
        data = await gql.data(query, {**variables, "after": after})
        connection = next(iter(data["modelRun"].values()))
        found += [edge["node"]["id"] for edge in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            assert len(found) == connection["totalCount"]
            return found
        after = connection["pageInfo"]["endCursor"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("iou", "confidence", "items"),
    [(0.5, 0.0, None), (0.75, 0.4, {"metadata": {"field": "split", "op": "EQ", "value": "odd"}})],
)
async def test_each_cell_lists_what_it_counts(
    gql: GraphQLClient, iou: float, confidence: float, items: dict[str, Any] | None
) -> None:
    case = make_case(seed=11, n_images=10)
    _, run_id = await upload(gql, case)
    assert (await evaluate(gql, run_id))["status"] == "SUCCEEDED"
    common = {"run": run_id, "iou": iou, "conf": confidence, "f": items}
    matrix = (await gql.data(MATRIX, common))["modelRun"]["metrics"]["confusionMatrix"]
    labels, counts = matrix["labels"], matrix["counts"]
    background = len(labels)
    assert sum(map(sum, counts)) > 0
    if items is None:  # the case has false positives confused with other labels' misses
        assert sum(counts[r][c] for r in range(background) for c in range(background) if r != c)

    for column, dt_label in enumerate(labels):
        in_column: list[str] = []
        for row, gt_label in [*enumerate(labels), (background, None)]:
            listed = await ids(gql, PREDICTIONS, {**common, "gt": gt_label, "dt": dt_label})
            assert len(listed) == counts[row][column], (gt_label, dt_label)
            in_column += listed
        outcome = {"o": "TRUE_POSITIVE", "label": dt_label}
        true_positives = await ids(gql, OUTCOMES, {**common, **outcome})
        false_positives = await ids(gql, OUTCOMES, {**common, **outcome, "o": "FALSE_POSITIVE"})
        # the diagonal is the label's true positives (labels match only themselves by default)
        diagonal = await ids(gql, PREDICTIONS, {**common, "gt": dt_label, "dt": dt_label})
        assert sorted(diagonal) == sorted(true_positives)
        # the rest of the column is its false positives, each in one cell
        assert sorted(set(in_column) - set(diagonal)) == sorted(false_positives)
        assert len(in_column) == len(set(in_column))

    for row, gt_label in enumerate(labels):
        missed = await ids(gql, MISSES, {**common, "gt": gt_label})
        assert len(missed) == counts[row][background]
        assert len(set(missed)) == len(missed)


async def test_an_unknown_label_selects_nothing(gql: GraphQLClient) -> None:
    case = make_case(seed=2, n_images=3)
    _, run_id = await upload(gql, case)
    assert (await evaluate(gql, run_id))["status"] == "SUCCEEDED"
    body = await gql.post(
        'query($run: ID!) { modelRun(id: $run) { confusionPredictions(predictionLabel: "nope") '
        "{ totalCount } } }",
        {"run": run_id},
    )
    assert body["data"]["modelRun"]["confusionPredictions"]["totalCount"] == 0
