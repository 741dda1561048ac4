"""YOLO: a zip of ``labels/*.txt`` (at any depth) plus the class names (``data.yaml``'s
``names``, a list or an {index: name} map, or ``classes.txt``, one name a line).

Each label file belongs to the item whose referenceId is the file's stem (``labels/0001.txt``
-> ``0001``); the item must exist with its width and height, by which the normalised values are
scaled. A line is ``class cx cy w h`` (a box) or ``class x1 y1 x2 y2 ...`` (a segment polygon,
three points at least); one more column is a prediction's confidence (the import then needs a
model run). The annotationId is ``<stem>:<line number>``.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import yaml  # type: ignore[import-untyped]

from sliceboard.services.imports.chunks import Chunk, FileProblems, Kind, Row


class YoloReader:
    def __init__(self, path: Path, *, predictions: bool) -> None:
        self.problems = FileProblems()
        self.predictions = predictions
        self.names: list[str] = []
        self.labels: dict[str, str] = {}  # stem -> member name
        self.sizes: dict[str, tuple[int, int]] = {}
        try:
            self.archive: zipfile.ZipFile | None = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            self.problems.add("file", f"not a zip archive ({exc})")
            self.archive = None
            return
        members = self.archive.namelist()
        for name in members:
            parts = PurePosixPath(name).parts
            if name.endswith(".txt") and len(parts) >= 2 and parts[-2] == "labels":
                stem = PurePosixPath(name).stem
                if stem in self.labels:
                    self.problems.add(name, f"a second label file for {stem!r}")
                self.labels[stem] = name
        self.names = self._class_names(members)
        if not self.labels:
            self.problems.add("file", "no labels/*.txt in the archive")

    def _class_names(self, members: list[str]) -> list[str]:
        by_base = {PurePosixPath(name).name: name for name in members}
        assert self.archive is not None
        if "data.yaml" in by_base:
            try:
                data = yaml.safe_load(self.archive.read(by_base["data.yaml"]))
            except yaml.YAMLError as exc:
                self.problems.add("data.yaml", f"not valid YAML ({exc})")
                return []
            names = data.get("names") if isinstance(data, dict) else None
            if isinstance(names, dict) and all(type(k) is int for k in names):
                return [str(names.get(k, k)) for k in range(max(names) + 1)] if names else []
            if isinstance(names, list):
                return [str(n) for n in names]
            self.problems.add("data.yaml", "names must be a list or an {index: name} map")
            return []
        if "classes.txt" in by_base:
            text = self.archive.read(by_base["classes.txt"]).decode("utf-8", "replace")
            return [line.strip() for line in text.splitlines() if line.strip()]
        self.problems.add("file", "no data.yaml or classes.txt with the class names")
        return []

    def stems(self) -> list[str]:
        return list(self.labels)

    def use_sizes(self, sizes: dict[str, tuple[int | None, int | None]]) -> None:
        for stem in self.labels:
            width, height = sizes.get(stem, (None, None))
            if stem not in sizes:
                self.problems.add(self.labels[stem], f"no item with referenceId {stem!r}")
            elif not width or not height:
                self.problems.add(self.labels[stem], f"item {stem!r} has no width and height")
            else:
                self.sizes[stem] = (width, height)

    def total_rows(self) -> int:
        if self.archive is None:
            return 0
        total = 0
        for name in self.labels.values():
            total += sum(1 for line in self.archive.read(name).splitlines() if line.strip())
        return total

    def chunks(self, size: int) -> Iterator[Chunk]:
        if self.archive is None:
            return
        kind: Kind = "predictions" if self.predictions else "annotations"
        chunk = Chunk(kind)
        for stem, member in self.labels.items():
            scale = self.sizes.get(stem)
            if scale is None:
                continue
            text = self.archive.read(member).decode("utf-8", "replace")
            for number, line in enumerate(text.splitlines(), start=1):
                if not line.strip():
                    continue
                where = f"{member} line {number}"
                row = self._row(line.split(), where, stem, number, scale)
                if row is not None:
                    chunk.add(row, where)
                    if len(chunk) >= size:
                        yield chunk
                        chunk = Chunk(kind)
        if chunk.rows:
            yield chunk

    def _row(
        self, fields: list[str], where: str, stem: str, number: int, scale: tuple[int, int]
    ) -> Row | None:
        try:
            cls = int(fields[0])
            values = [float(v) for v in fields[1:]]
        except ValueError:
            self.problems.add(where, "expected a class index and numbers")
            return None
        if not 0 <= cls < len(self.names):
            self.problems.add(where, f"class {cls} is not one of the {len(self.names)} names")
            return None
        confidence: float | None = None
        n = len(values)
        if n in (4, 5):
            coords, confidence = values[:4], (values[4] if n == 5 else None)
            is_box = True
        elif n >= 6:
            if n % 2:
                coords, confidence = values[:-1], values[-1]
            else:
                coords = values
            is_box = False
        else:
            self.problems.add(where, f"expected 4 box values or a polygon, got {n} values")
            return None
        if confidence is not None and not self.predictions:
            self.problems.add(where, "a confidence column needs the import's modelRunId")
            return None
        width, height = scale
        row: Row = {
            "reference_id": stem,
            "annotation_id": f"{stem}:{number}",
            "label": self.names[cls],
        }
        if is_box:
            cx, cy, w, h = coords
            row["box"] = {
                "x": (cx - w / 2) * width,
                "y": (cy - h / 2) * height,
                "width": w * width,
                "height": h * height,
            }
        else:
            vertices: list[dict[str, Any]] = [
                {"x": coords[k] * width, "y": coords[k + 1] * height}
                for k in range(0, len(coords), 2)
            ]
            row["polygon"] = {"vertices": vertices}
        if self.predictions:
            row["confidence"] = confidence
        return row
