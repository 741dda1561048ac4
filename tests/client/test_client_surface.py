"""The client's shape, without a server: every server mutation has a method, the blocking and
async clients agree, backoff stays within its bounds, formats and CLI names map as documented."""

from __future__ import annotations

import email.utils
import fcntl
import inspect
import io
import os
import re
import struct
import termios
import time
import zipfile
from pathlib import Path

import pytest

from sliceboard.client import AsyncClient, Client, JobHandle, RetryPolicy
from sliceboard.client.async_client import MUTATION_METHODS
from sliceboard.client.commands import count_lines, export_format
from sliceboard.client.files import EXPORT_FORMATS, IMPORT_FORMATS, format_name, yolo_zip
from sliceboard.client.jobs import AsyncJobHandle
from sliceboard.client.progress import Bar, wanted
from sliceboard.client.retry import parse_retry_after

SDL = Path(__file__).resolve().parents[2] / "schema" / "schema.graphql"


def _mutation_fields() -> list[str]:
    block = re.search(r"^type Mutation \{(.*?)^\}", SDL.read_text(), re.S | re.M)
    assert block is not None
    return re.findall(r"^  (\w+)\(", block.group(1), re.M)


def test_every_mutation_of_the_server_has_a_client_method() -> None:
    fields = _mutation_fields()
    assert "createDataset" in fields
    missing = [field for field in fields if field not in MUTATION_METHODS]
    assert "createApiKey" in MUTATION_METHODS  # issue 12's, ready for its merge
    assert missing == []
    for method in MUTATION_METHODS.values():
        assert callable(getattr(AsyncClient, method)) and callable(getattr(Client, method))


def _public(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in vars(cls).items()
        if not name.startswith("_") and inspect.isfunction(member) and name != "from_env"
    }


def test_the_blocking_client_mirrors_the_async_one() -> None:
    sync, aio = _public(Client), _public(AsyncClient)
    assert sorted(set(aio) - {"aclose", "require"}) == sorted(set(sync) - {"close"})
    for name, signature in sync.items():
        if name in aio:
            assert list(signature.parameters.items()) == list(aio[name].parameters.items()), name
    handle, async_handle = _public(JobHandle), _public(AsyncJobHandle)
    assert set(handle) == set(async_handle)
    assert handle["wait"].parameters == async_handle["wait"].parameters


def test_backoff_is_exponential_capped_and_at_least_half() -> None:
    policy = RetryPolicy(attempts=6, base_seconds=0.5, cap_seconds=4)
    for retry, nominal in enumerate([0.5, 1, 2, 4, 4]):
        delays = [policy.delay(retry) for _ in range(200)]
        assert all(nominal / 2 <= d <= nominal for d in delays)
        assert max(delays) - min(delays) > nominal / 10  # jittered, not fixed
    assert policy.delay(0, retry_after=7) == 7


def test_retry_after_as_seconds_or_http_date() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    now = time.time()
    later = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after(later, now=now) == pytest.approx(30, abs=1)
    assert parse_retry_after(email.utils.formatdate(now - 30, usegmt=True), now=now) == 0


def test_format_names() -> None:
    assert format_name("coco-results", IMPORT_FORMATS) == "COCO_RESULTS"
    assert format_name("ndjson", EXPORT_FORMATS) == "NDJSON"
    with pytest.raises(ValueError, match="unknown format"):
        format_name("csv", IMPORT_FORMATS)
    assert export_format("metrics", None, "out.csv") == "METRICS_CSV"
    assert export_format("metrics", None, "out.json") == "METRICS_JSON"
    assert export_format("matches", None, "m.parquet") == "MATCHES_PARQUET"
    assert export_format("matches", "csv", "m.parquet") == "MATCHES_CSV"
    assert export_format("coco-results", None, "r.json") == "COCO_RESULTS"


def test_count_lines() -> None:
    result = {"items": {"new": 5, "updated": 1, "ignored": 0}, "lines": 9}
    assert count_lines(result) == ["items: 5 new, 1 updated, 0 ignored", "lines: 9"]


def test_a_yolo_folder_is_zipped_with_its_class_names(tmp_path: Path) -> None:
    (tmp_path / "labels" / "val").mkdir(parents=True)
    (tmp_path / "labels" / "val" / "img1.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (tmp_path / "labels" / "img2.txt").write_text("1 0.5 0.5 0.2 0.2\n")
    (tmp_path / "data.yaml").write_text("names: [cat, dog]\n")
    packed = yolo_zip(tmp_path)
    try:
        with zipfile.ZipFile(packed) as archive:
            assert sorted(archive.namelist()) == [
                "data.yaml",
                "labels/img2.txt",
                "labels/val/img1.txt",
            ]
    finally:
        packed.unlink()
    with pytest.raises(ValueError, match="classes"):
        yolo_zip(tmp_path / "labels")


def _drain(descriptor: int) -> str:
    """Everything written so far to the other end of a pseudo-terminal."""
    os.set_blocking(descriptor, False)
    chunks: list[bytes] = []
    while True:
        try:
            chunk = os.read(descriptor, 65536)
        except BlockingIOError:
            return b"".join(chunks).decode(errors="replace")
        if not chunk:
            return b"".join(chunks).decode(errors="replace")
        chunks.append(chunk)


def test_bars_are_drawn_on_a_terminal_only() -> None:
    assert not wanted(None, io.StringIO())
    with Bar("quiet", 10, stream=io.StringIO()) as bar:
        bar.advance(10)
        assert not bar.drawn and bar.count == 10
    leader, follower = os.openpty()
    size = struct.pack("HHHH", 24, 100, 0, 0)  # rows, columns: a terminal has a size
    fcntl.ioctl(follower, termios.TIOCSWINSZ, size)
    with os.fdopen(follower, "w") as terminal:
        assert wanted(None, terminal)
        assert not wanted(False, terminal)
        with Bar("upload", 10, stream=terminal) as bar:
            bar.advance(10)
            assert bar.drawn
        terminal.flush()
        drawn = _drain(leader)
    os.close(leader)
    assert "upload" in drawn and "10/10" in drawn


#: The file-job contract of issue 13, for checking the client's documents before the server
#: side exists (once schema.graphql has importFile, the SDL itself is used).
FILE_CONTRACT = """
scalar Upload
enum ImportFormat { COCO COCO_RESULTS YOLO NDJSON }
input ImportFileInput { format: ImportFormat! file: Upload! datasetId: ID! modelRunId: ID
                        update: Boolean! = true imagesRoot: String }
union ImportFilePayload = Job | InvalidInputError | NotFoundError
enum ExportFormat { COCO COCO_RESULTS NDJSON METRICS_JSON METRICS_CSV MATCHES_CSV MATCHES_PARQUET }
input ExportFileInput { format: ExportFormat! datasetId: ID modelRunId: ID filter: ItemFilter
                        sliceId: ID iouThreshold: Float! = 0.5 confidenceThreshold: Float! = 0 }
union ExportFilePayload = Job | InvalidInputError | NotFoundError
extend type Mutation {
  importFile(input: ImportFileInput!): ImportFilePayload!
  exportFile(input: ExportFileInput!): ExportFilePayload!
}
extend type Job { rowsDone: Int rowsTotal: Int result: JSON issues: [String!]! }
"""


def test_every_document_the_client_sends_is_valid_on_the_server_schema() -> None:
    from graphql import build_schema, parse, validate

    from sliceboard.client import documents

    sdl = SDL.read_text()
    schema = build_schema(sdl if "importFile" in sdl else sdl + FILE_CONTRACT)
    every_job_field = " ".join([*documents.JOB_FIELDS, *documents.EXTRA_JOB_FIELDS])
    skipped = () if "createApiKey" in sdl else documents.API_KEY_DOCUMENTS
    sent = [
        value
        for name, value in vars(documents).items()
        if name.isupper() and isinstance(value, str) and "{" in value and name not in skipped
    ]
    sent = [d for d in sent if d.lstrip().startswith(("query", "mutation", "subscription"))]
    sent += [
        make(every_job_field)
        for make in (
            documents.evaluate,
            documents.cancel_job,
            documents.import_file,
            documents.export_file,
            documents.job_query,
            documents.job_subscription,
            documents.run_jobs,
        )
    ]
    sent += [
        documents.upsert("upsertItems", "datasetId", "items", "ItemInput"),
        documents.upsert("upsertAnnotations", "datasetId", "annotations", "AnnotationInput"),
        documents.upsert("upsertPredictions", "modelRunId", "predictions", "PredictionInput"),
    ]
    assert len(sent) > 25
    for document in sent:
        assert validate(schema, parse(document)) == [], document
