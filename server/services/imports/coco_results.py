"""A detector's COCO results list -> predictions of a run.

Each detection names its image (``image_id`` -> the item whose referenceId is that id as text,
as a COCO ground-truth import made it), its category (-> the label the ground-truth import
recorded for that id; without a recorded category list the id as text) and one geometry:
``keypoints``, else ``bbox``, else ``segmentation`` (RLE or polygons) - the ground-truth
import's order, so both sides of a run get the same family - with its ``score``. The
annotationId is ``dt<index in the file>``, so detections keep their file order (row order is
pycocotools' tie order inside an image) and importing the same file again changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sliceboard.services.imports.chunks import Chunk, FileProblems, Row
from sliceboard.services.imports.coco import (
    _int_id,
    coco_box,
    coco_keypoints,
    coco_segmentation,
)
from sliceboard.services.imports.json_stream import StreamError, array_elements, count_key


class CocoResultsReader:
    """Streams the list (``json_stream``): memory holds a chunk, not the file."""

    #: annotationIds are made from file positions, so the file cannot repeat a key.
    unique_keys = True

    def __init__(self, path: Path) -> None:
        self.problems = FileProblems()
        self.path = path
        #: category id -> (label, keypoint names, skeleton), from the dataset; None: ids as text
        self.categories: dict[int, tuple[str, list[str] | None, list[list[int]] | None]] | None = (
            None
        )

    def use_categories(self, records: list[dict[str, Any]] | None) -> None:
        if not records:
            return
        self.categories = {}
        for record in records:
            cid = _int_id(record.get("id"))
            name = record.get("name")
            if cid is None or not isinstance(name, str):
                continue
            names = record.get("keypoints")
            skeleton = record.get("skeleton")
            edges = (
                [[e[0] - 1, e[1] - 1] for e in skeleton if isinstance(e, list) and len(e) == 2]
                if isinstance(skeleton, list) and skeleton
                else None
            )
            self.categories[cid] = (name, names if isinstance(names, list) else None, edges)

    def total_rows(self) -> int:
        """Detections in the file, counted by their ``"image_id"`` keys without parsing it."""
        return count_key(self.path, b'"image_id"')

    def chunks(self, size: int) -> Iterator[Chunk]:
        chunk = Chunk("predictions")
        try:
            for i, det in enumerate(array_elements(self.path)):
                where = f"[{i}]"
                row = self._row(det, where, i)
                if row is None:
                    continue
                chunk.add(row, where)
                if len(chunk) >= size:
                    yield chunk
                    chunk = Chunk("predictions")
        except StreamError as exc:
            self.problems.add("file", str(exc))
        if chunk.rows:
            yield chunk

    def _row(self, det: object, where: str, index: int) -> Row | None:
        if not isinstance(det, dict):
            self.problems.add(where, "must be an object")
            return None
        iid = _int_id(det.get("image_id"))
        cid = _int_id(det.get("category_id"))
        if iid is None:
            self.problems.add(where + ".image_id", "must be an integer")
            return None
        names: list[str] | None = None
        skeleton: list[list[int]] | None = None
        if cid is None:
            self.problems.add(where + ".category_id", "must be an integer")
            return None
        if self.categories is None:
            label = str(cid)
        elif cid in self.categories:
            label, names, skeleton = self.categories[cid]
        else:
            self.problems.add(
                where + ".category_id", f"no category with id {cid} in the dataset's categories"
            )
            return None
        row: Row = {
            "reference_id": str(iid),
            "annotation_id": f"dt{index}",
            "label": label,
            "confidence": det.get("score"),
        }
        if det.get("keypoints") is not None:
            row["keypoints"] = coco_keypoints(det["keypoints"], names, skeleton)
        elif det.get("bbox") is not None:
            row["box"] = coco_box(det["bbox"])
        elif det.get("segmentation") is not None:
            row["segmentation"] = coco_segmentation(det["segmentation"])
        else:
            self.problems.add(where, "needs a bbox, segmentation or keypoints")
            return None
        if isinstance(row["confidence"], int) and not isinstance(row["confidence"], bool):
            row["confidence"] = float(row["confidence"])
        return row
