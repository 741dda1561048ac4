"""compareRuns through the schema on both databases: deltas are the difference of the runs' own
metrics (which equal pycocotools), transitions agree with pycocotools' per-image matches, the
fixed - broken identity holds per label and overall, a run against itself changes nothing, and
the typed errors name what is wrong."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from sliceboard.runtime import Runtime
from sliceboard.services import catalog, uploads
from sliceboard.services.evaluation.options import EvaluationOptions, Matching
from sliceboard.storage.db import transaction
from tests.support.coco_cases import CocoCase, case_stats, make_case
from tests.support.comparison_cases import add_run, evaluate_now, other_detector, pycocotools_found
from tests.support.evaluation_upload import MAX_ROWS, upload_case
from tests.support.graphql import COCO_SUMMARY_FIELDS, Executor

METRICS = ("ap", "ap50", "ap75", "precision", "recall", "f1")
DELTA = "{ baseline candidate delta low high pValue }"
DELTA_POINT = "{ baseline candidate delta }"
SET = "{ " + " ".join(f"{m} {DELTA}" for m in METRICS) + " }"
SET_POINT = "{ " + " ".join(f"{m} {DELTA_POINT}" for m in METRICS) + " }"
TRANSITIONS = "{ fixed broken stillMissed stillFound newFalsePositives removedFalsePositives }"
COMPARE = (
    (
        "query($runs: [ID!]!, $iou: Float, $conf: Float, $resamples: Int) { compareRuns(runIds: $runs, "
        "iouThreshold: $iou, confidenceThreshold: $conf, resamples: $resamples) { isStale baseline { id } "
        "candidates { run { id } overall SET transitions TRANSITIONS perLabel { label "
        "baselineTruePositives candidateTruePositives baselineFalsePositives candidateFalsePositives "
        "ap SETP ap50 SETP precision SETP recall SETP f1 SETP transitions TRANSITIONS } } } }"
    )
    .replace("SETP", DELTA_POINT)
    .replace("SET", SET)
    .replace("TRANSITIONS", TRANSITIONS)
)
METRICS_QUERY = (
    "query($run: ID!, $iou: Float, $conf: Float) { modelRun(id: $run) { metrics(iouThreshold: $iou, "
    "confidenceThreshold: $conf) { coco { "
    + COCO_SUMMARY_FIELDS
    + " } perLabel { label ap ap50 precision recall f1 truePositives falsePositives } } } }"
)


@dataclass
class TwoRuns:
    case: CocoCase
    other: list[dict[str, Any]]
    dataset_id: str
    base: str
    cand: str


async def two_runs(runtime: Runtime, seed: int = 11) -> TwoRuns:
    case = make_case(seed=seed, n_images=30)
    dataset_id, base = await upload_case(runtime, case)
    other = other_detector(case, seed)
    cand = await add_run(runtime, case, dataset_id, other, "second")
    await evaluate_now(runtime, base)
    await evaluate_now(runtime, cand)
    return TwoRuns(case, other, dataset_id, base, cand)


async def metrics(execute: Executor, run: str, iou: float, conf: float) -> dict[str, Any]:
    data = await execute.data(METRICS_QUERY, {"run": run, "iou": iou, "conf": conf})
    report: dict[str, Any] = data["modelRun"]["metrics"]
    return report


@pytest.mark.parametrize(("iou", "conf"), [(0.5, 0.0), (0.75, 0.4)])
async def test_deltas_are_differences_of_metrics_and_transitions_match_pycocotools(
    runtime: Runtime, execute: Executor, iou: float, conf: float
) -> None:
    runs = await two_runs(runtime)
    data = await execute.data(
        COMPARE, {"runs": [runs.base, runs.cand], "iou": iou, "conf": conf, "resamples": 50}
    )
    comparison = data["compareRuns"]
    assert comparison["baseline"]["id"] == runs.base
    assert comparison["isStale"] is False
    (delta,) = comparison["candidates"]
    assert delta["run"]["id"] == runs.cand
    base_m = await metrics(execute, runs.base, iou, conf)
    cand_m = await metrics(execute, runs.cand, iou, conf)
    # the runs' own metrics are pycocotools' (checked here too, so the chain is closed)
    base_stats = np.array([base_m["coco"][k] for k in COCO_SUMMARY_FIELDS.split()])
    np.testing.assert_allclose(base_stats, case_stats(runs.case), rtol=0, atol=1e-12)
    cand_case = CocoCase(runs.case.dataset, runs.other, runs.case.image_keys)
    cand_stats = np.array([cand_m["coco"][k] for k in COCO_SUMMARY_FIELDS.split()])
    np.testing.assert_allclose(cand_stats, case_stats(cand_case), rtol=0, atol=1e-12)

    overall = delta["overall"]
    for name in ("ap", "ap50", "ap75"):
        assert overall[name]["baseline"] == base_m["coco"][name]
        assert overall[name]["candidate"] == cand_m["coco"][name]
        assert abs(overall[name]["delta"] - (cand_m["coco"][name] - base_m["coco"][name])) <= 1e-12
        assert overall[name]["low"] <= overall[name]["delta"] <= overall[name]["high"]
        assert 0 < overall[name]["pValue"] <= 1
    base_rows = {r["label"]: r for r in base_m["perLabel"]}
    cand_rows = {r["label"]: r for r in cand_m["perLabel"]}
    for row in delta["perLabel"]:
        b, c = base_rows[row["label"]], cand_rows[row["label"]]
        for name in ("ap", "ap50", "precision", "recall", "f1"):
            if b[name] is None or c[name] is None:
                assert row[name]["delta"] is None
            else:
                assert abs(row[name]["delta"] - (c[name] - b[name])) <= 1e-12

    # transitions: an independent recount from pycocotools' evalImgs of both runs
    names = {c["id"]: c["name"] for c in runs.case.dataset["categories"]}
    base_found = pycocotools_found(runs.case, runs.case.detections, iou, conf)
    cand_found = pycocotools_found(runs.case, runs.other, iou, conf)
    assert base_found.keys() == cand_found.keys()
    expected: dict[str, Counter[str]] = {}
    for gt_id, (category, found_before) in base_found.items():
        found_after = cand_found[gt_id][1]
        kind = {
            (False, True): "fixed",
            (True, False): "broken",
            (False, False): "stillMissed",
            (True, True): "stillFound",
        }[(found_before, found_after)]
        expected.setdefault(names[category], Counter())[kind] += 1
    total: Counter[str] = Counter()
    for counts in expected.values():
        total.update(counts)
    assert total["fixed"] > 0 and total["broken"] > 0  # the case exercises both directions
    transitions = delta["transitions"]
    for kind in ("fixed", "broken", "stillMissed", "stillFound"):
        assert transitions[kind] == total[kind]
    for row in delta["perLabel"]:
        got = row["transitions"]
        want = expected.get(row["label"], Counter())
        for kind in ("fixed", "broken", "stillMissed", "stillFound"):
            assert got[kind] == want[kind], (row["label"], kind)
        # the identity, per label, exactly
        assert (
            row["candidateTruePositives"] - row["baselineTruePositives"]
            == got["fixed"] - got["broken"]
        )
        assert (
            row["candidateFalsePositives"] - row["baselineFalsePositives"]
            == got["newFalsePositives"] - got["removedFalsePositives"]
        )
    tp_b = sum(r["truePositives"] for r in base_m["perLabel"])
    tp_c = sum(r["truePositives"] for r in cand_m["perLabel"])
    assert tp_c - tp_b == transitions["fixed"] - transitions["broken"]


async def test_a_run_against_itself_changes_nothing(runtime: Runtime, execute: Executor) -> None:
    runs = await two_runs(runtime, seed=4)
    data = await execute.data(
        COMPARE, {"runs": [runs.base, runs.base], "iou": 0.5, "conf": 0.0, "resamples": 40}
    )
    (delta,) = data["compareRuns"]["candidates"]
    for name in METRICS:
        d = delta["overall"][name]
        assert d["delta"] == 0.0
        assert d["low"] == 0.0 and d["high"] == 0.0
        assert d["pValue"] == 1.0
    t = delta["transitions"]
    assert t["fixed"] == t["broken"] == t["newFalsePositives"] == t["removedFalsePositives"] == 0
    assert t["stillFound"] + t["stillMissed"] > 0
    for row in delta["perLabel"]:
        for name in ("ap", "ap50", "precision", "recall", "f1"):
            assert row[name]["delta"] in (0.0, None)


OBJECTS = """query($runs: [ID!]!, $kind: TransitionKind!, $after: String) {
  compareRuns(runIds: $runs) { candidates { objects(kind: $kind, first: 7, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { kind label item { referenceId } groundTruth { annotationId label }
            prediction { annotationId } baselineMatch { annotationId }
            candidateMatch { annotationId } } } } } } }"""


async def _all_objects(execute: Executor, runs: list[str], kind: str) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        data = await execute.data(OBJECTS, {"runs": runs, "kind": kind, "after": after})
        page = data["compareRuns"]["candidates"][0]["objects"]
        nodes.extend(edge["node"] for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            assert len(nodes) == page["totalCount"]
            return nodes
        after = page["pageInfo"]["endCursor"]


async def test_objects_page_through_exactly_the_changed_ground_truth(
    runtime: Runtime, execute: Executor
) -> None:
    runs = await two_runs(runtime, seed=6)
    base_found = pycocotools_found(runs.case, runs.case.detections)
    cand_found = pycocotools_found(runs.case, runs.other)
    fixed = {f"gt-{g}" for g, (_, f) in base_found.items() if not f and cand_found[g][1]}
    broken = {f"gt-{g}" for g, (_, f) in base_found.items() if f and not cand_found[g][1]}
    got_fixed = await _all_objects(execute, [runs.base, runs.cand], "FIXED")
    got_broken = await _all_objects(execute, [runs.base, runs.cand], "BROKEN")
    assert {n["groundTruth"]["annotationId"] for n in got_fixed} == fixed
    assert {n["groundTruth"]["annotationId"] for n in got_broken} == broken
    assert all(n["candidateMatch"] is not None and n["baselineMatch"] is None for n in got_fixed)
    assert all(n["baselineMatch"] is not None and n["candidateMatch"] is None for n in got_broken)
    new = await _all_objects(execute, [runs.base, runs.cand], "NEW_FALSE_POSITIVE")
    assert new and all(n["prediction"] is not None for n in new)


async def _other_dataset_run(runtime: Runtime) -> str:
    case = make_case(seed=2, n_images=6)
    async with transaction(runtime.sessions) as session:
        dataset = await catalog.create_dataset(session, name="other", metadata=None)
        await uploads.upsert_items(
            session,
            dataset_id=str(dataset.id),
            items=[{"reference_id": i["key"]} for i in case.dataset["images"]],
            update=False,
            max_rows=MAX_ROWS,
        )
    return await add_run(runtime, case, str(dataset.id), case.detections, "elsewhere")


async def test_typed_errors_name_the_problem(runtime: Runtime, execute: Executor) -> None:
    runs = await two_runs(runtime, seed=3)
    query = "query($runs: [ID!]!) { compareRuns(runIds: $runs) { baseline { id } } }"

    _, errors = await execute.run(query, {"runs": [runs.base]})
    assert errors[0]["extensions"]["code"] == "INVALID_INPUT"
    assert errors[0]["extensions"]["issues"][0]["path"] == "runIds"
    _, errors = await execute.run(query, {"runs": [runs.base] * 9})
    assert errors[0]["extensions"]["issues"][0]["path"] == "runIds"

    elsewhere = await _other_dataset_run(runtime)
    await evaluate_now(runtime, elsewhere)
    _, errors = await execute.run(query, {"runs": [runs.base, elsewhere]})
    assert errors[0]["extensions"]["code"] == "INVALID_INPUT"
    issue = errors[0]["extensions"]["issues"][0]
    assert issue["path"] == "runIds[1]" and "dataset" in issue["message"]

    await evaluate_now(runtime, runs.cand, EvaluationOptions(matching=Matching.IOU_GREEDY))
    _, errors = await execute.run(query, {"runs": [runs.base, runs.cand]})
    issue = errors[0]["extensions"]["issues"][0]
    assert issue["path"] == "runIds[1]" and "matching" in issue["message"]

    _, errors = await execute.run(query, {"runs": [runs.base, "999999"]})
    assert errors[0]["extensions"]["code"] == "NOT_FOUND"

    too_many = (
        "query($runs: [ID!]!) { compareRuns(runIds: $runs, resamples: 1000000) "
        "{ candidates { overall { ap { low } } } } }"
    )
    await evaluate_now(runtime, runs.cand)
    _, errors = await execute.run(too_many, {"runs": [runs.base, runs.cand]})
    assert errors[0]["extensions"]["issues"][0]["path"] == "resamples"


async def test_a_stale_evaluation_is_flagged(runtime: Runtime, execute: Executor) -> None:
    runs = await two_runs(runtime, seed=8)
    query = "query($runs: [ID!]!) { compareRuns(runIds: $runs) { isStale staleRuns { id } } }"
    data = await execute.data(query, {"runs": [runs.base, runs.cand]})
    assert data["compareRuns"] == {"isStale": False, "staleRuns": []}
    key = runs.case.image_keys[0]
    async with transaction(runtime.sessions) as session:
        await uploads.upsert_predictions(
            session,
            model_run_id=runs.cand,
            predictions=[
                {
                    "reference_id": key,
                    "annotation_id": "late",
                    "label": "c3",
                    "box": {"x": 1, "y": 1, "width": 5, "height": 5},
                    "confidence": 0.5,
                }
            ],
            update=False,
            max_rows=MAX_ROWS,
        )
    data = await execute.data(query, {"runs": [runs.base, runs.cand]})
    assert data["compareRuns"] == {"isStale": True, "staleRuns": [{"id": runs.cand}]}


INTERVALS = """query($run: ID!, $seed: Int) { modelRun(id: $run) { metrics {
  coco { ap } intervals(resamples: 60, seed: $seed) { overall { ap { low high } recall { low high } }
  perLabel { label ap { low high } } } } } }"""


async def test_intervals_repeat_for_a_seed_and_bracket_the_metric(
    runtime: Runtime, execute: Executor
) -> None:
    runs = await two_runs(runtime, seed=9)
    first = await execute.data(INTERVALS, {"run": runs.base, "seed": 1})
    again = await execute.data(INTERVALS, {"run": runs.base, "seed": 1})
    other = await execute.data(INTERVALS, {"run": runs.base, "seed": 2})
    assert first == again
    assert first != other
    report = first["modelRun"]["metrics"]
    ap = report["intervals"]["overall"]["ap"]
    assert ap["low"] < report["coco"]["ap"] < ap["high"]
    _, errors = await execute.run(
        "query($run: ID!) { modelRun(id: $run) { metrics { intervals(level: 1.5) { level } } } }",
        {"run": runs.base},
    )
    assert errors[0]["extensions"]["issues"][0]["path"] == "level"


REGRESSIONS = """query($runs: [ID!]!) { compareRuns(runIds: $runs) { candidates {
  regressions(first: 5, resamples: 30) { kind name field value itemCount adjustedPValue
    ap { baseline candidate delta low high pValue } } } } }"""


async def test_regressions_rank_metadata_groups_by_ap_loss(
    runtime: Runtime, execute: Executor
) -> None:
    runs = await two_runs(runtime, seed=10)
    data = await execute.data(REGRESSIONS, {"runs": [runs.base, runs.cand]})
    found = data["compareRuns"]["candidates"][0]["regressions"]
    split = [r for r in found if r["field"] == "split"]
    assert {r["value"] for r in split} == {"even", "odd"}
    deltas = [r["ap"]["delta"] for r in found]
    assert deltas == sorted(deltas)
    for r in split:  # each group's AP is pycocotools' on its images
        ids = [
            i["id"]
            for i in runs.case.dataset["images"]
            if (i["id"] % 2 == 0) == (r["value"] == "even")
        ]
        cand_case = CocoCase(runs.case.dataset, runs.other, runs.case.image_keys)
        want = case_stats(cand_case, ids)[0] - case_stats(runs.case, ids)[0]
        assert abs(r["ap"]["delta"] - want) <= 1e-12
        assert r["itemCount"] == len(ids)
        assert r["adjustedPValue"] >= r["ap"]["pValue"]
