"""The streamed reader of a JSON list gives exactly ``json.loads``' elements, through its fast
cut-at-``}, {`` path and through its exact fallback, and names where a broken file breaks."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import orjson
import pytest

from sliceboard.services.imports import json_stream
from sliceboard.services.imports.json_stream import StreamError, array_elements, count_key

DETECTIONS = [
    {
        "image_id": i,
        "bbox": [1.5, 2, 3, 4],
        "score": 0.5,
        "segmentation": {"counts": "x" * (i % 50)},
    }
    for i in range(3000)
]


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of 1 kB, so every element crosses block boundaries somewhere."""
    monkeypatch.setattr(json_stream, "FAST_BLOCK_BYTES", 1000)
    monkeypatch.setattr(json_stream, "_TAIL", 64)
    monkeypatch.setattr(json_stream, "BLOCK_CHARS", 777)


@pytest.mark.parametrize(
    "document",
    [
        DETECTIONS,
        [*DETECTIONS[:100], {"image_id": 1, "note": "a},{b"}, *DETECTIONS[100:200]],
        [{"a": [{"x": 1}, {"y": 2}]} for _ in range(300)],
        [],
    ],
    ids=["detections", "string-with-a-cut", "nested-objects", "empty"],
)
@pytest.mark.parametrize(
    "dumps", [json.dumps, lambda d: orjson.dumps(d).decode(), lambda d: json.dumps(d, indent=2)]
)
def test_elements_are_those_of_the_document(
    tmp_path: Path, document: list[Any], dumps: Any
) -> None:
    path = tmp_path / "list.json"
    path.write_text(dumps(document))
    assert list(array_elements(path)) == document


def test_what_orjson_refuses_is_read_exactly(tmp_path: Path) -> None:
    path = tmp_path / "nan.json"
    path.write_text(json.dumps([*DETECTIONS[:500], {"score": float("nan")}]))
    values = list(array_elements(path))
    assert values[:500] == DETECTIONS[:500] and math.isnan(values[500]["score"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (json.dumps(DETECTIONS)[:-30], "[2999]: not valid JSON"),
        ('{"a": 1}', "the file must be a JSON list"),
        ("[1, 2] 3", "data after the list"),
        ("[1 2]", "[1]: expected ',' or ']'"),
    ],
)
def test_a_broken_file_names_where(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(StreamError, match=None) as error:
        list(array_elements(path))
    assert message in str(error.value)


def test_count_key_counts_across_blocks(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_bytes(orjson.dumps(DETECTIONS))
    assert count_key(path, b'"image_id"') == len(DETECTIONS)
