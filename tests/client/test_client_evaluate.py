"""``client.evaluate(run).wait()`` (subscription, or polling) and ``client.metrics`` against a
real server on both backends: COCO's 12 numbers equal pycocotools' on the same data, over the
whole dataset and over a filter; tables come back as DataFrames."""

from __future__ import annotations

import numpy as np
import pytest

from sliceboard.client import Client, InvalidInputError, JobFailedError, to_frame
from tests.support.client_rows import case_rows
from tests.support.client_servers import server_on
from tests.support.coco_cases import TOL, case_stats, make_case

pytestmark = pytest.mark.slow


def test_evaluate_wait_and_metrics_equal_pycocotools(served: str, unique: str) -> None:
    case = make_case(seed=11, n_images=24)
    items, annotations, predictions = case_rows(case)
    # polling once every 10 minutes: the wait below ends only if the subscription delivers
    with Client(served, batch_rows=250, poll_seconds=600) as client:
        dataset = client.ensure_dataset(f"d-{unique}")
        client.upsert_items(dataset, items)
        client.upsert_annotations(dataset, annotations)
        run = client.ensure_model_run(client.ensure_model(f"m-{unique}"), dataset, "val")
        assert client.upsert_predictions(run, predictions).new == len(predictions) > 250

        handle = client.evaluate(run)
        assert handle.job.kind and handle.job.status in ("QUEUED", "RUNNING")
        job = handle.wait(timeout=120)
        assert (job.status, job.progress) == ("SUCCEEDED", 1.0)
        assert client.run_jobs(run)[0].id == job.id
        evaluation = client.evaluation(run)
        assert evaluation is not None and evaluation.version == 1 and not evaluation.is_stale

        report = client.metrics(run)
        np.testing.assert_allclose(report.coco.stats, case_stats(case), rtol=0, atol=TOL)
        assert (report.item_count, report.ground_truth_count, report.prediction_count) == (
            len(items),
            len(annotations),
            len(predictions),
        )
        even = {"metadata": {"field": "split", "op": "EQ", "value": "even"}}
        even_ids = [i["id"] for i in case.dataset["images"] if i["id"] % 2 == 0]
        sliced = client.metrics(run, filter=even)
        np.testing.assert_allclose(
            sliced.coco.stats, case_stats(case, image_ids=even_ids), rtol=0, atol=TOL
        )
        saved = client.create_slice(dataset, "even", filter=even)
        assert client.metrics(run, slice=saved).coco.stats == sliced.coco.stats

        frame = report.per_label_frame()
        assert list(frame.index) == sorted(c["name"] for c in case.dataset["categories"])
        assert int(frame["true_positives"].sum()) == sum(r.true_positives for r in report.per_label)
        confusion = report.confusion_frame()
        assert confusion.shape == (len(report.confusion_labels) + 1,) * 2
        assert confusion.values.tolist() == report.confusion_counts

        curve = client.precision_recall_curve(run, "c3")
        assert curve and all(0 <= p.recall <= 1 and 0 <= p.precision <= 1 for p in curve)
        false_positives = list(
            client.predictions(run, filter={"outcome": "FALSE_POSITIVE"}, iou_threshold=0.5)
        )
        assert len(false_positives) == sum(r.false_positives for r in report.per_label)
        assert all(p.matched_annotation_id is None for p in false_positives)
        table = to_frame(client.false_negatives(run))
        assert len(table) == sum(r.false_negatives for r in report.per_label)


def test_wait_by_polling_without_the_subscription(served: str, unique: str) -> None:
    case = make_case(seed=5, n_images=6)
    items, annotations, predictions = case_rows(case)
    with Client(served, subscriptions=False, poll_seconds=0.05) as client:
        dataset = client.ensure_dataset(f"d-{unique}")
        client.upsert_items(dataset, items)
        client.upsert_annotations(dataset, annotations)
        run = client.ensure_model_run(client.ensure_model(f"m-{unique}"), dataset, "val")
        client.upsert_predictions(run, predictions)
        job = client.evaluate(run, matching="IOU_GREEDY", iou_thresholds=[0.5, 0.75]).wait(60)
        assert job.status == "SUCCEEDED"
        with pytest.raises(InvalidInputError) as refused:
            client.evaluate(run, iou_thresholds=[1.5])
        assert any("iouThresholds" in issue.path for issue in refused.value.issues)


def test_a_cancelled_job_raises_and_a_wait_can_time_out(database_url: str, unique: str) -> None:
    with server_on(database_url, "--no-jobs") as base, Client(base) as client:
        dataset = client.ensure_dataset(f"d-{unique}")
        client.upsert_items(dataset, [{"referenceId": "a"}])
        run = client.ensure_model_run(client.ensure_model(f"m-{unique}"), dataset, "r")
        handle = client.evaluate(run)
        with pytest.raises(TimeoutError):
            handle.wait(timeout=0.5)  # nobody runs jobs on this server
        assert client.cancel_job(handle.id).status == "CANCELLED"
        with pytest.raises(JobFailedError) as failed:
            handle.wait(timeout=30)
        assert failed.value.job.status == "CANCELLED"
        assert handle.wait(raise_on_failure=False).status == "CANCELLED"
