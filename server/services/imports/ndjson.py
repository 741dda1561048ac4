"""NDJSON: one JSON object per line, with the GraphQL input field names (``referenceId``,
``annotationId``, ``box: {x, y, width, height}``, ``classPdf`` ...).

What a line is: its ``"kind"`` field (``item``, ``annotation``, ``prediction`` or
``customMetric`` - a CustomMetricInput of the import's model run) when it has one; otherwise a line without ``annotationId`` is an item, and one with it is a prediction when
the import names a model run, else an annotation. Blank lines are skipped. The file is read a
line at a time, so a file larger than memory imports; items are written before the
annotations and predictions that follow them (a chunk of objects waits for the items read
before it).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from sliceboard.services.imports.chunks import KINDS, Chunk, FileProblems, Kind, Row

_ROW_NAMES = {
    "referenceId": "reference_id",
    "annotationId": "annotation_id",
    "classPdf": "class_pdf",
    "customMetrics": "custom_metrics",
    "featureName": "feature_name",
    "subclassName": "subclass_name",
    "valuesByConfidence": "values_by_confidence",
    "semanticSegmentation": "semantic_segmentation",
}
_COMMON = ("referenceId", "annotationId", "label", "metadata", "area", "classifications")
_GEOMETRY = (
    "box",
    "polygon",
    "polyline",
    "keypoints",
    "segmentation",
    "cuboid",
    "semanticSegmentation",
)
FIELDS: dict[Kind, frozenset[str]] = {
    "items": frozenset({"referenceId", "url", "width", "height", "metadata"}),
    "annotations": frozenset({*_COMMON, *_GEOMETRY, "iscrowd"}),
    "predictions": frozenset({*_COMMON, *_GEOMETRY, "confidence", "classPdf", "customMetrics"}),
    "metrics": frozenset(
        {
            "name",
            "referenceId",
            "featureName",
            "subclassName",
            "value",
            "valuesByConfidence",
            "aggregation",
            "confusion",
        }
    ),
}
_KINDS: dict[object, Kind] = {
    "item": "items",
    "annotation": "annotations",
    "prediction": "predictions",
    "customMetric": "metrics",
}


_SINGULAR = {value: key for key, value in _KINDS.items()}


def count_lines(path: Path) -> int:
    """Lines in the file (a last line without a newline counts), read in 1 MB blocks."""
    lines = 0
    last = b"\n"
    with path.open("rb") as file:
        while block := file.read(1 << 20):
            lines += block.count(b"\n")
            last = block[-1:]
    return lines + (last != b"\n")


class NdjsonReader:
    def __init__(self, path: Path, *, predictions: bool) -> None:
        self.path = path
        self.default_object: Kind = "predictions" if predictions else "annotations"
        self.problems = FileProblems()
        self._total: int | None = None

    def total_rows(self) -> int:
        if self._total is None:
            self._total = count_lines(self.path)
        return self._total

    def _row(self, raw: Any, where: str) -> tuple[Kind, Row] | None:
        if not isinstance(raw, dict):
            self.problems.add(where, "must be a JSON object")
            return None
        kind: Kind
        if "kind" in raw:
            given = raw.pop("kind")
            if given not in _KINDS:
                self.problems.add(
                    where, "kind must be item, annotation, prediction or customMetric"
                )
                return None
            kind = _KINDS[given]
        else:
            kind = "items" if "annotationId" not in raw else self.default_object
        if kind in ("predictions", "metrics") and self.default_object != "predictions":
            self.problems.add(where, f"a {_SINGULAR[kind]} needs the import's modelRunId")
            return None
        unknown = [name for name in raw if name not in FIELDS[kind]]
        if unknown:
            self.problems.add(
                where, f"unknown field(s) for {_SINGULAR[kind]}: {', '.join(map(str, unknown))}"
            )
            return None
        semantic = raw.get("semanticSegmentation")
        if isinstance(semantic, dict):
            if "mask" in semantic:
                self.problems.add(
                    where, "semanticSegmentation.mask: a line names its mask by maskUrl"
                )
                return None
            if "maskUrl" in semantic:  # the row name the mask validator reads
                semantic = {**semantic, "mask_url": semantic.pop("maskUrl")}
                raw["semanticSegmentation"] = semantic
        return kind, {_ROW_NAMES.get(str(name), str(name)): value for name, value in raw.items()}

    def chunks(self, size: int) -> Iterator[Chunk]:
        pending: dict[Kind, Chunk] = {kind: Chunk(kind) for kind in KINDS}
        with self.path.open("rb") as file:
            for number, line in enumerate(file, start=1):
                if not line.strip():
                    continue
                where = f"line {number}"
                try:
                    raw = orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    ended = not line.endswith(b"\n")
                    self.problems.add(
                        where, f"not valid JSON{' (truncated file?)' if ended else ''} ({exc})"
                    )
                    continue
                parsed = self._row(raw, where)
                if parsed is None:
                    continue
                kind, row = parsed
                chunk = pending[kind]
                chunk.add(row, where)
                if len(chunk) >= size:
                    if kind != "items" and pending["items"].rows:
                        yield pending["items"]
                        pending["items"] = Chunk("items")
                    yield chunk
                    pending[kind] = Chunk(kind)
        for chunk in pending.values():
            if chunk.rows:
                yield chunk
