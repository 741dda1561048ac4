"""File formats as the server names them, and a YOLO folder packed as the zip it takes."""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path

IMPORT_FORMATS = ("COCO", "COCO_RESULTS", "YOLO", "NDJSON")
EXPORT_FORMATS = (
    "COCO",
    "COCO_RESULTS",
    "NDJSON",
    "METRICS_JSON",
    "METRICS_CSV",
    "MATCHES_CSV",
    "MATCHES_PARQUET",
)
#: Files beside ``labels/`` that name the classes.
CLASS_FILES = ("data.yaml", "data.yml", "classes.txt")


def format_name(name: str, choices: tuple[str, ...]) -> str:
    """``coco-results``, ``coco_results`` and ``COCO_RESULTS`` are one format."""
    normal = name.strip().upper().replace("-", "_")
    if normal not in choices:
        raise ValueError(f"unknown format {name!r}; expected one of {', '.join(choices)}")
    return normal


def yolo_zip(folder: Path) -> Path:
    """A temporary zip of a YOLO folder: ``labels/**/*.txt`` and the class names file.

    ``folder`` is either a dataset folder holding ``labels/`` and ``data.yaml`` or
    ``classes.txt``, or the labels folder itself (then the class file is beside the labels).
    The caller deletes the zip.
    """
    labels = folder / "labels" if (folder / "labels").is_dir() else folder
    class_files = [folder / name for name in CLASS_FILES if (folder / name).is_file()]
    if not class_files:
        raise ValueError(f"{folder}: no data.yaml or classes.txt naming the classes")
    label_files = sorted(
        path for path in labels.rglob("*.txt") if path.is_file() and path.name not in CLASS_FILES
    )
    descriptor, name = tempfile.mkstemp(prefix="sliceboard-yolo-", suffix=".zip")
    os.close(descriptor)
    target = Path(name)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in class_files:
            archive.write(path, path.name)
        for path in label_files:
            archive.write(path, (Path("labels") / path.relative_to(labels)).as_posix())
    return target
