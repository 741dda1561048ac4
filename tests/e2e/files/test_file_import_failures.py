"""Bad files fail their import with the issue at its line or JSON path and write nothing; a
cancelled import writes nothing; the upload has its own size limit; multipart needs the
preflight header."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from sliceboard.jobs.context import JobContext
from tests.support.coco_cases import make_case
from tests.support.file_jobs import (
    JOB_FIELDS,
    counts,
    dataset_and_run,
    import_file,
    post_import,
    wait_job,
)
from tests.support.graphql import GraphQLClient


def ndjson(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(row).encode() + b"\n" for row in rows)


def items(n: int) -> list[dict[str, Any]]:
    return [{"referenceId": f"i{k}", "width": 10, "height": 10} for k in range(n)]


def boxes(n: int) -> list[dict[str, Any]]:
    box = {"x": 1, "y": 1, "width": 2, "height": 2}
    return [
        {"referenceId": f"i{k % 50}", "annotationId": f"a{k}", "label": "cat", "box": box}
        for k in range(n)
    ]


def coco(**change: Any) -> bytes:
    case = make_case(seed=2, n_images=8)
    dataset = dict(case.dataset)
    for key, edit in change.items():
        dataset[key] = edit(dataset[key])
    return json.dumps(dataset).encode()


def _bad_annotation(annotations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [*annotations[:-1], {**annotations[-1], "image_id": 999}]


def _duplicate_annotation(annotations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [*annotations, dict(annotations[0])]


BAD_FILES = [
    pytest.param("COCO", coco()[:-40], "file: not valid JSON", id="coco-truncated"),
    pytest.param(
        "COCO",
        coco(annotations=_bad_annotation),
        ".image_id: no image with id 999 in images",
        id="coco-unknown-image",
    ),
    pytest.param(
        "COCO", coco(annotations=_duplicate_annotation), ".id: duplicate annotation id", id="coco-duplicate"
    ),
    pytest.param(
        "NDJSON",
        ndjson([*items(50), *boxes(1200)])[:-25],
        "line 1250: not valid JSON (truncated file?)",
        id="ndjson-truncated",
    ),
    pytest.param(
        "NDJSON",
        ndjson([*items(50), *boxes(1200), boxes(8)[7]]),
        "line 1251: (referenceId 'i7', annotationId 'a7') given twice in the file",
        id="ndjson-duplicate-across-chunks",
    ),
    pytest.param(
        "NDJSON",
        ndjson([*items(50), *boxes(1200), {**boxes(1)[0], "annotationId": "z", "box": {"x": 1, "y": 1, "width": 0, "height": 2}}]),
        "line 1251: box.width must be",
        id="ndjson-bad-geometry",
    ),
    pytest.param(
        "NDJSON",
        ndjson([*items(50), *boxes(1200), {**boxes(1)[0], "referenceId": "nope", "annotationId": "z"}]),
        "line 1251: referenceId no item with referenceId 'nope'",
        id="ndjson-unknown-item",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("format", "content", "issue"), BAD_FILES)
async def test_a_bad_file_fails_with_its_issue_and_writes_nothing(
    http: httpx.AsyncClient, gql: GraphQLClient, format: str, content: bytes, issue: str
) -> None:
    dataset_id, run_id = await dataset_and_run(gql)
    job = await import_file(http, {"format": format, "datasetId": dataset_id}, content)
    assert job["status"] == "FAILED", job
    assert any(issue in text for text in job["issues"]), job["issues"]
    assert job["error"].startswith(f"{len(job['issues'])} issue(s) in the file")
    assert job["result"] is None
    assert await counts(gql, dataset_id, run_id) == (0, 0, 0)


async def test_coco_results_with_an_unknown_image_fail_and_write_nothing(
    http: httpx.AsyncClient, gql: GraphQLClient
) -> None:
    case = make_case(seed=2, n_images=8)
    dataset_id, run_id = await dataset_and_run(gql)
    gt = await import_file(
        http, {"format": "COCO", "datasetId": dataset_id}, json.dumps(case.dataset).encode()
    )
    assert gt["status"] == "SUCCEEDED"
    detections = [*case.detections, {**case.detections[0], "image_id": 4242}]
    job = await import_file(
        http,
        {"format": "COCO_RESULTS", "datasetId": dataset_id, "modelRunId": run_id},
        json.dumps(detections).encode(),
    )
    assert job["status"] == "FAILED", job
    assert job["issues"] == [
        f"[{len(case.detections)}]: referenceId no item with referenceId '4242' in this dataset"
    ]
    assert (await counts(gql, dataset_id, run_id))[2] == 0
    truncated = json.dumps(case.detections).encode()[:-30]
    job = await import_file(
        http, {"format": "COCO_RESULTS", "datasetId": dataset_id, "modelRunId": run_id}, truncated
    )
    assert job["status"] == "FAILED", job
    assert job["issues"][0].startswith(f"file: [{len(case.detections) - 1}]: not valid JSON")
    assert (await counts(gql, dataset_id, run_id))[2] == 0


async def test_a_cancelled_import_writes_nothing(
    http: httpx.AsyncClient, gql: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The import pauses after its first progress report until the cancel is acknowledged, so
    # the cancel lands mid-import however fast the rows validate (no timing involved).
    acknowledged = asyncio.Event()
    report_rows = JobContext.report_rows

    async def pausing(
        self: JobContext, done: int, total: int | None, message: str | None = None
    ) -> None:
        await report_rows(self, done, total, message)
        if done > 0:
            await acknowledged.wait()

    monkeypatch.setattr(JobContext, "report_rows", pausing)
    dataset_id, run_id = await dataset_and_run(gql)
    content = ndjson([*items(50), *boxes(20_000)])
    payload = await post_import(http, {"format": "NDJSON", "datasetId": dataset_id}, content)
    query = f"query($id: ID!) {{ job(id: $id) {{ {JOB_FIELDS} }} }}"
    deadline = asyncio.get_running_loop().time() + 60
    while True:  # until the job reports its first rows
        job = (await gql.data(query, {"id": payload["id"]}))["job"]
        if job["status"] == "RUNNING" and (job["rowsDone"] or 0) > 0:
            break
        assert job["status"] in ("QUEUED", "RUNNING"), job
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.01)
    assert job["rowsDone"] < job["rowsTotal"] == 20_050
    cancel = await gql.data(
        "mutation($id: ID!) { cancelJob(id: $id) { ... on Job { id } } }", {"id": payload["id"]}
    )
    assert cancel["cancelJob"]["id"] == payload["id"]
    acknowledged.set()
    job = await wait_job(http, payload["id"])
    assert job["status"] == "CANCELLED", job
    assert await counts(gql, dataset_id, run_id) == (0, 0, 0)


async def test_a_cancel_after_the_import_committed_is_too_late(
    http: httpx.AsyncClient, gql: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The import is whole once it commits: a cancel from then on does not turn it into a
    CANCELLED job with its rows written (which a fast import on SQLite did)."""
    committed, acknowledged = asyncio.Event(), asyncio.Event()
    report_rows = JobContext.report_rows

    async def pausing(
        self: JobContext, done: int, total: int | None, message: str | None = None
    ) -> None:
        await report_rows(self, done, total, message)
        if (message or "").startswith("imported:"):  # reported after the commit
            committed.set()
            await acknowledged.wait()

    monkeypatch.setattr(JobContext, "report_rows", pausing)
    dataset_id, run_id = await dataset_and_run(gql)
    content = ndjson([*items(50), *boxes(100)])
    payload = await post_import(http, {"format": "NDJSON", "datasetId": dataset_id}, content)
    await asyncio.wait_for(committed.wait(), 60)
    cancel = await gql.data(
        "mutation($id: ID!) { cancelJob(id: $id) { ... on Job { id } } }", {"id": payload["id"]}
    )
    assert cancel["cancelJob"]["id"] == payload["id"]
    acknowledged.set()
    job = await wait_job(http, payload["id"])
    assert job["status"] == "SUCCEEDED", job
    assert await counts(gql, dataset_id, run_id) == (50, 100, 0)


async def test_an_import_needs_its_run_for_results_and_a_known_dataset(
    http: httpx.AsyncClient, gql: GraphQLClient
) -> None:
    dataset_id, _ = await dataset_and_run(gql)
    missing = await post_import(http, {"format": "COCO", "datasetId": "99999"}, b"{}")
    assert missing["__typename"] == "NotFoundError"
    no_run = await post_import(http, {"format": "COCO_RESULTS", "datasetId": dataset_id}, b"[]")
    assert no_run["__typename"] == "InvalidInputError"
    assert [i["path"] for i in no_run["inputIssues"]] == ["input.modelRunId"]


async def test_a_multipart_post_needs_the_preflight_header(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/graphql",
        data={"operations": json.dumps({"query": "{ __typename }"}), "map": "{}"},
        files={"0": ("f", b"x")},
    )
    assert response.status_code == 400
    assert "apollo-require-preflight" in response.json()["errors"][0]["message"]
