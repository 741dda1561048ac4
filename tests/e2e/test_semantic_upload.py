"""Semantic masks uploaded over HTTP on both databases: file parts of a multipart request,
http(s) and file:// URLs; idempotent re-upload; every bad mask a typed error naming the row,
with nothing of the batch written."""

from __future__ import annotations

import asyncio
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from sliceboard.config import Settings
from tests.support.label_maps import blocky_map, png_bytes
from tests.support.semantic_uploads import (
    ERRORS,
    graphql,
    make_dataset,
    make_run,
    mask_row,
    post_multipart,
    upload_masks,
)

H, W = 24, 40
SEGMENTS = [(1, "road"), (2, "car"), (3, "road")]  # a label may name several segments


@pytest.fixture
def media_root(tmp_path: Path) -> Path:
    root = tmp_path / "media"
    root.mkdir()
    return root


@pytest.fixture
async def app_settings(database_url: str, media_root: Path) -> Settings:
    return Settings(
        database_url=database_url,
        run_jobs=False,
        media_root=str(media_root),
        mask_fetch_timeout_seconds=5.0,
    )


@pytest.fixture
def served() -> Iterator[tuple[str, dict[str, bytes]]]:
    """A loopback HTTP server answering the bytes put in its dict by path."""
    files: dict[str, bytes] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = files.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("content-length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", files
    server.shutdown()
    server.server_close()
    thread.join()


def _mask(seed: int, values: list[int] | None = None) -> np.ndarray:
    return blocky_map(np.random.default_rng(seed), H, W, values or [0, 1, 2, 3], cell=4)


async def _annotations(http: httpx.AsyncClient, dataset_id: str) -> list[dict[str, Any]]:
    data = await graphql(
        http,
        """query($d: ID) { dataset(id: $d) { annotations(first: 100) { totalCount edges { node {
            annotationId label type area geometry { ... on SemanticSegmentation {
            maskDigest height width maskUrl segments { index label } } } } } } } }""",
        {"d": dataset_id},
    )
    connection = data["dataset"]["annotations"]
    assert connection["totalCount"] == len(connection["edges"])
    return [edge["node"] for edge in connection["edges"]]


async def _stored_label_maps(database_url: str) -> int:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            return int(
                (await connection.execute(sa.text("SELECT count(*) FROM label_map"))).scalar_one()
            )
    finally:
        await engine.dispose()


async def test_file_parts_are_stored_once_and_reuploads_change_nothing(
    http: httpx.AsyncClient, database_url: str
) -> None:
    dataset_id = await make_dataset(http, {"a": (H, W), "b": (H, W)})
    first, second = _mask(1), _mask(2)
    rows = [mask_row("a", "gt", SEGMENTS), mask_row("b", "gt", SEGMENTS)]
    pngs = {0: png_bytes(first), 1: png_bytes(second)}
    assert await upload_masks(http, target_id=dataset_id, rows=rows, pngs=pngs) == {
        "new": 2, "updated": 0, "ignored": 0,
    }  # fmt: skip
    stored = await _annotations(http, dataset_id)
    assert [a["type"] for a in stored] == ["SEMANTIC_SEGMENTATION"] * 2
    assert stored[0]["label"] == "semantic"
    assert stored[0]["geometry"]["segments"] == [
        {"index": i, "label": name} for i, name in SEGMENTS
    ]
    assert (stored[0]["geometry"]["height"], stored[0]["geometry"]["width"]) == (H, W)
    assert stored[0]["area"] == float(np.count_nonzero(first))  # index 0 is the ignore index
    assert stored[0]["geometry"]["maskDigest"] != stored[1]["geometry"]["maskDigest"]
    assert await _stored_label_maps(database_url) == 2

    # the same pixels in a 16-bit PNG: the same digest, so update=true changes nothing
    again = {0: png_bytes(first, mode="I;16"), 1: png_bytes(second)}
    assert await upload_masks(http, target_id=dataset_id, rows=rows, pngs=again, update=True) == {
        "new": 0, "updated": 0, "ignored": 2,
    }  # fmt: skip
    # another mask for "a" under the same annotationId replaces it
    changed = {0: png_bytes(second)}
    result = await upload_masks(
        http, target_id=dataset_id, rows=rows[:1], pngs=changed, update=True
    )
    assert result == {"new": 0, "updated": 1, "ignored": 0}
    digests = [a["geometry"]["maskDigest"] for a in await _annotations(http, dataset_id)]
    assert digests[0] == digests[1]
    # a mask sent for an existing key without update: the row is ignored, nothing stored
    third = {0: png_bytes(_mask(9))}
    result = await upload_masks(http, target_id=dataset_id, rows=rows[:1], pngs=third)
    assert result == {"new": 0, "updated": 0, "ignored": 1}
    assert await _stored_label_maps(database_url) == 2


async def test_mask_urls_over_http_and_under_the_media_root(
    http: httpx.AsyncClient, served: tuple[str, dict[str, bytes]], media_root: Path
) -> None:
    base, files = served
    files["/a.png"] = png_bytes(_mask(3))
    (media_root / "sub").mkdir()
    (media_root / "sub" / "b.png").write_bytes(png_bytes(_mask(4)))
    dataset_id = await make_dataset(http, {"a": (H, W), "b": (H, W)})
    run_id = await make_run(http, dataset_id)
    rows = [
        mask_row("a", "p", SEGMENTS, url=f"{base}/a.png"),
        mask_row("b", "p", SEGMENTS, url=f"file://{media_root}/sub/../sub/b.png"),
    ]
    result = await upload_masks(http, target_id=run_id, rows=rows, pngs={}, predictions=True)
    assert result == {"new": 2, "updated": 0, "ignored": 0}


def _rgb_png() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.zeros((H, W, 3), dtype=np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


BAD_CASES = {
    "wrong size": (png_bytes(np.ones((H + 1, W), dtype=np.uint8)), None, "the mask is 40x25 (width x height) but the item is 40x24"),
    "undeclared index": (png_bytes(_mask(5, [0, 1, 7, 9])), None, "the mask holds index 7, 9, which no segment declares and which is not the dataset's ignore index 0"),
    "truncated PNG": (png_bytes(_mask(6))[:-40], None, "the mask PNG is truncated or corrupt"),
    "RGB PNG": (_rgb_png(), None, "the mask must be a single-channel 8- or 16-bit PNG; this one is mode RGB"),
    "outside the media root": (None, "file:///etc/hostname", "the file:// mask URL is outside the media root"),
    "unreachable URL": (None, "http://127.0.0.1:9/mask.png", "could not fetch maskUrl"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_CASES))
async def test_a_bad_mask_rejects_the_batch_naming_the_row(
    http: httpx.AsyncClient, case: str
) -> None:
    png, url, message = BAD_CASES[case]
    dataset_id = await make_dataset(http, {"a": (H, W), "b": (H, W)})
    good = mask_row("a", "gt", SEGMENTS)
    bad = mask_row("b", "gt", SEGMENTS, url=url)
    pngs = {0: png_bytes(_mask(8))} | ({1: png} if png is not None else {})
    result = await upload_masks(http, target_id=dataset_id, rows=[good, bad], pngs=pngs)
    field = "mask" if png is not None else "maskUrl"
    assert [issue["path"] for issue in result["issues"]] == [
        f"annotations[1].semanticSegmentation.{field}"
    ]
    assert result["issues"][0]["message"].startswith(message), result["issues"][0]["message"]
    assert await _annotations(http, dataset_id) == []  # the good row was not written either


async def test_row_rules_are_checked_before_any_mask_is_read(http: httpx.AsyncClient) -> None:
    dataset_id = await make_dataset(http, {"a": (H, W)})
    data = await graphql(
        http,
        """mutation($d: ID!) { upsertItems(datasetId: $d, items: [{referenceId: "nosize"}]) { ... on UpsertResult { new } } }""",
        {"d": dataset_id},
    )
    assert data["upsertItems"]["new"] == 1
    rows = [
        mask_row("a", "one", [(1, "road"), (1, "car")]),
        mask_row("a", "two", SEGMENTS),
        mask_row("nosize", "gt", SEGMENTS),
        {"referenceId": "a", "annotationId": "both", "semanticSegmentation": {"segments": [{"index": 1, "label": "x"}], "maskUrl": "http://127.0.0.1:9/x.png", "mask": None}},
        {"referenceId": "a", "annotationId": "box", "box": {"x": 0, "y": 0, "width": 1, "height": 1}},
    ]  # fmt: skip
    result = await upload_masks(
        http, target_id=dataset_id, rows=rows, pngs={0: png_bytes(_mask(1)), 1: png_bytes(_mask(1)), 2: png_bytes(_mask(1)), 3: png_bytes(_mask(1))}
    )  # fmt: skip
    assert [(i["path"], i["message"]) for i in result["issues"]] == [
        ("annotations[0].semanticSegmentation.segments[1].index", "duplicate of annotations[0].semanticSegmentation.segments[0].index"),
        ("annotations[3].semanticSegmentation", "give exactly one of maskUrl or mask"),
        ("annotations[4].label", "must be a string"),
    ]  # fmt: skip
    rows = rows[1:3]
    result = await upload_masks(
        http, target_id=dataset_id, rows=[mask_row("a", "one", SEGMENTS), *rows], pngs={0: png_bytes(_mask(1)), 1: png_bytes(_mask(1)), 2: png_bytes(_mask(1))}
    )  # fmt: skip
    assert [(i["path"], i["message"]) for i in result["issues"]] == [
        ("annotations[1].semanticSegmentation", "the item already has a semantic mask in this batch (annotations[0].semanticSegmentation)"),
        ("annotations[2].semanticSegmentation", "the item has no width and height; set them before its mask"),
    ]  # fmt: skip


async def test_a_mask_sent_as_json_is_refused(http: httpx.AsyncClient) -> None:
    dataset_id = await make_dataset(http, {"a": (H, W)})
    data = await graphql(
        http,
        f"mutation($d: ID!, $rows: [AnnotationInput!]!) {{ upsertAnnotations(datasetId: $d, annotations: $rows) {{ {ERRORS} }} }}",
        {"d": dataset_id, "rows": [{**mask_row("a", "gt", SEGMENTS), "semanticSegmentation": {"segments": [{"index": 1, "label": "road"}], "mask": "iVBORw0KGgo="}}]},
    )  # fmt: skip
    assert data["upsertAnnotations"]["issues"] == [
        {"path": "annotations[0].semanticSegmentation.mask", "message": "must be a file part of a GraphQL multipart request"}
    ]  # fmt: skip


async def test_a_multipart_request_without_the_preflight_header_is_refused(
    http: httpx.AsyncClient,
) -> None:
    response = await post_multipart(
        http,
        "mutation($f: Upload) { deleteDataset(id: 1) { __typename } }",
        {"f": None},
        {"f": b"x"},
        preflight=False,
    )
    assert response.status_code == 400
    assert "apollo-require-preflight" in response.json()["errors"][0]["message"]


async def test_a_slow_mask_url_times_out(database_url: str, media_root: Path) -> None:
    """A server that accepts and never answers: the fetch gives up at the setting."""
    from sliceboard.app import create_app

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings = Settings(database_url=database_url, run_jobs=False, mask_fetch_timeout_seconds=0.3)
    app = create_app(settings, migrate=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://localhost"
        ) as http,
    ):
        dataset_id = await make_dataset(http, {"a": (H, W)})
        rows = [mask_row("a", "gt", SEGMENTS, url=f"http://127.0.0.1:{port}/slow.png")]
        result = await upload_masks(http, target_id=dataset_id, rows=rows, pngs={})
    server.close()
    assert result["issues"] == [
        {"path": "annotations[0].semanticSegmentation.maskUrl", "message": "fetching maskUrl took longer than 0.3 s (SLICEBOARD_MASK_FETCH_TIMEOUT_SECONDS)"}
    ]  # fmt: skip


async def test_the_mask_limits_are_typed_errors(database_url: str) -> None:
    """More masks than SLICEBOARD_MAX_MASKS_PER_BATCH, and a PNG over SLICEBOARD_MAX_MASK_BYTES."""
    from sliceboard.app import create_app

    settings = Settings(
        database_url=database_url, run_jobs=False, max_masks_per_batch=1, max_mask_bytes=100
    )
    app = create_app(settings, migrate=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://localhost"
        ) as http,
    ):
        dataset_id = await make_dataset(http, {"a": (H, W), "b": (H, W)})
        big = png_bytes(np.random.default_rng(0).integers(0, 4, size=(H, W)))
        assert len(big) > 100
        two = [mask_row("a", "gt", SEGMENTS), mask_row("b", "gt", SEGMENTS)]
        result = await upload_masks(http, target_id=dataset_id, rows=two, pngs={0: big, 1: big})
        assert result["issues"] == [
            {"path": "annotations", "message": "2 semantic masks exceed the limit of 1 per batch (SLICEBOARD_MAX_MASKS_PER_BATCH)"}
        ]  # fmt: skip
        result = await upload_masks(http, target_id=dataset_id, rows=two[:1], pngs={0: big})
        assert result["issues"] == [
            {"path": "annotations[0].semanticSegmentation.mask", "message": "the mask is larger than 100 bytes (SLICEBOARD_MAX_MASK_BYTES)"}
        ]  # fmt: skip
        assert await _annotations(http, dataset_id) == []
