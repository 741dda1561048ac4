"""NDJSON imports carry semantic masks as GraphQL inputs do: ``semanticSegmentation`` with a
``maskUrl`` (here file:// under the media root); a bad mask fails the import and writes nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from sliceboard.config import Settings
from tests.support.file_jobs import dataset_and_run, import_file
from tests.support.graphql import GraphQLClient
from tests.support.label_maps import blocky_map, png_bytes
from tests.support.semantic_uploads import mask_row

ANNOTATIONS = "query($d: ID!) { dataset(id: $d) { annotations { totalCount } } }"


@pytest.fixture
def media(tmp_path: Path) -> Path:
    folder = tmp_path / "media"
    folder.mkdir()
    return folder


@pytest.fixture
async def app_settings(database_url: str, tmp_path: Path, media: Path) -> Settings:
    return Settings(
        database_url=database_url,
        run_jobs=True,
        job_poll_seconds=0.05,
        files_dir=str(tmp_path / "files"),
        media_root=str(media),
    )


def _lines(media: Path, values: list[int], segments: list[tuple[int, str]]) -> bytes:
    mask = blocky_map(np.random.default_rng(0), 24, 32, values)
    (media / "a.png").write_bytes(png_bytes(mask))
    rows: list[dict[str, Any]] = [
        {"referenceId": "a", "width": 32, "height": 24},
        mask_row("a", "m1", segments, url=(media / "a.png").as_uri()),
    ]
    return "\n".join(json.dumps(row) for row in rows).encode()


async def test_a_mask_line_imports_and_a_bad_one_writes_nothing(
    http: httpx.AsyncClient, gql: GraphQLClient, media: Path
) -> None:
    good, _ = await dataset_and_run(gql, "good")
    text = _lines(media, [0, 1, 2], [(1, "road"), (2, "car")])
    job = await import_file(http, {"format": "NDJSON", "datasetId": good}, text)
    assert job["status"] == "SUCCEEDED", job
    assert job["result"]["annotations"]["new"] == 1
    answer = await gql.data(ANNOTATIONS, {"d": good})
    assert answer["dataset"]["annotations"]["totalCount"] == 1

    bad, _ = await dataset_and_run(gql, "bad")
    text = _lines(media, [0, 1, 7], [(1, "road")])  # index 7 is not a declared segment
    job = await import_file(http, {"format": "NDJSON", "datasetId": bad}, text)
    assert job["status"] == "FAILED", job
    assert any("7" in issue for issue in job["issues"]), job["issues"]
    answer = await gql.data(ANNOTATIONS, {"d": bad})
    assert answer["dataset"]["annotations"]["totalCount"] == 0
