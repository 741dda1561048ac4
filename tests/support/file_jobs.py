"""importFile / exportFile over HTTP: a multipart upload (GraphQL multipart request spec), a
bounded wait for the job, and the download of an export."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from tests.support.graphql import GraphQLClient

JOB_FIELDS = "id kind status error rowsDone rowsTotal result issues"
ERRORS = (
    "... on Error { message } ... on InvalidInputError { inputIssues: issues { path message } }"
)
IMPORT = f"""mutation($input: ImportFileInput!) {{ importFile(input: $input) {{
    __typename ... on Job {{ {JOB_FIELDS} }} {ERRORS} }} }}"""
EXPORT = f"""mutation($input: ExportFileInput!) {{ exportFile(input: $input) {{
    __typename ... on Job {{ {JOB_FIELDS} }} {ERRORS} }} }}"""
PREFLIGHT = {"apollo-require-preflight": "true"}


async def post_import(
    http: httpx.AsyncClient, fields: dict[str, Any], content: bytes, name: str = "file"
) -> dict[str, Any]:
    """The importFile payload for ``content`` sent as the input's ``file``."""
    operations = {"query": IMPORT, "variables": {"input": {**fields, "file": None}}}
    response = await http.post(
        "/graphql",
        data={
            "operations": json.dumps(operations),
            "map": json.dumps({"0": ["variables.input.file"]}),
        },
        files={"0": (name, content, "application/octet-stream")},
        headers=PREFLIGHT,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body.get("errors"), body
    payload: dict[str, Any] = body["data"]["importFile"]
    return payload


async def wait_job(http: httpx.AsyncClient, job_id: str, timeout: float = 120) -> dict[str, Any]:
    """The job once it reached a final status (polled with a deadline)."""
    query = f"query($id: ID!) {{ job(id: $id) {{ {JOB_FIELDS} }} }}"
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        response = await http.post("/graphql", json={"query": query, "variables": {"id": job_id}})
        job: dict[str, Any] = response.json()["data"]["job"]
        if job["status"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            return job
        await asyncio.sleep(0.02)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s")


async def import_file(
    http: httpx.AsyncClient, fields: dict[str, Any], content: bytes, name: str = "file"
) -> dict[str, Any]:
    """Import and wait: the finished job."""
    payload = await post_import(http, fields, content, name)
    assert payload["__typename"] == "Job", payload
    return await wait_job(http, payload["id"])


async def export_file(
    http: httpx.AsyncClient, fields: dict[str, Any]
) -> tuple[dict[str, Any], httpx.Response]:
    """Export, wait, download: (the finished job, the download response)."""
    response = await http.post("/graphql", json={"query": EXPORT, "variables": {"input": fields}})
    payload = response.json()["data"]["exportFile"]
    assert payload["__typename"] == "Job", payload
    job = await wait_job(http, payload["id"])
    assert job["status"] == "SUCCEEDED", job
    download = await http.get(job["result"]["downloadUrl"])
    assert download.status_code == 200, download.text
    return job, download


async def created(gql: GraphQLClient, mutation: str, variables: dict[str, Any]) -> str:
    payload = next(iter((await gql.data(mutation, variables)).values()))
    assert "id" in payload, payload
    return str(payload["id"])


async def dataset_and_run(gql: GraphQLClient, name: str = "d") -> tuple[str, str]:
    dataset_id = await created(
        gql,
        "mutation($n: String!) { createDataset(input: {name: $n}) { ... on Dataset { id } } }",
        {"n": name},
    )
    model_id = await created(
        gql,
        "mutation($n: String!) { createModel(input: {name: $n, referenceId: $n}) { ... on Model { id } } }",
        {"n": f"m-{name}"},
    )
    run_id = await created(
        gql,
        'mutation($m: ID!, $d: ID!) { createModelRun(input: {modelId: $m, datasetId: $d, name: "r"}) { ... on ModelRun { id } } }',
        {"m": model_id, "d": dataset_id},
    )
    return dataset_id, run_id


async def counts(gql: GraphQLClient, dataset_id: str, run_id: str) -> tuple[int, int, int]:
    """(items, annotations, predictions) stored."""
    data = await gql.data(
        """query($d: ID!, $r: ID!) { dataset(id: $d) { items(first: 1) { totalCount }
           annotations(first: 1) { totalCount } }
           modelRun(id: $r) { predictions(first: 1) { totalCount } } }""",
        {"d": dataset_id, "r": run_id},
    )
    return (
        data["dataset"]["items"]["totalCount"],
        data["dataset"]["annotations"]["totalCount"],
        data["modelRun"]["predictions"]["totalCount"],
    )
