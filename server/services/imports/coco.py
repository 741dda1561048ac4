"""COCO ground truth (instances, person keypoints) -> items, annotations and the category list.

* images -> items: ``referenceId`` = the image id as text, ``url`` = ``file_name`` under the
  optional images root, width and height, metadata ``{"cocoId": id, "fileName": ...}``;
* categories -> labels (the category's name), kept whole on the dataset (``metadata.coco``) so
  a results file can name them by id and an export can give the same ids back;
* annotations -> annotations: ``annotationId`` = the annotation id as text, ``area`` and
  ``iscrowd`` as given (so COCO metrics stay exact). One geometry each: keypoints for an object
  of a category with keypoints (with the category's skeleton, 0-based), else its ``bbox``, else
  its segmentation (polygons or RLE).

Issues name the file's JSON path (``annotations[12].bbox``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from sliceboard.services.imports.chunks import Chunk, FileProblems, Row


def load_json(data: bytes, problems: FileProblems) -> Any:
    """The document, or None after a problem (a truncated file ends here)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        problems.add("file", f"not valid JSON ({exc})")
        return None


def _int_id(value: object) -> int | None:
    if type(value) is int:
        return value
    if type(value) is float and value.is_integer():
        return int(value)
    return None


def coco_box(bbox: object) -> dict[str, Any] | object:
    """COCO's [x, y, w, h] as a box input; anything else passes on for validation to name."""
    if isinstance(bbox, list) and len(bbox) == 4:
        return {"x": bbox[0], "y": bbox[1], "width": bbox[2], "height": bbox[3]}
    return bbox


def coco_segmentation(segmentation: object) -> dict[str, Any] | object:
    """Polygons ([[x, y, ...], ...]) or an RLE ({counts, size}) as a segmentation input."""
    if isinstance(segmentation, dict):
        return {"rle": {"counts": segmentation.get("counts"), "size": segmentation.get("size")}}
    if isinstance(segmentation, list):
        polygons = []
        for ring in segmentation:
            if not isinstance(ring, list) or len(ring) % 2:
                return {"polygons": segmentation}  # validation names it
            vertices = [{"x": ring[k], "y": ring[k + 1]} for k in range(0, len(ring), 2)]
            polygons.append({"vertices": vertices})
        return {"polygons": polygons}
    return segmentation


def coco_keypoints(
    flat: object, names: list[str] | None, skeleton: list[list[int]] | None
) -> dict[str, Any] | object:
    """COCO's [x1, y1, v1, ...] as a keypoints input (integral visibilities as ints)."""
    if not isinstance(flat, list) or len(flat) % 3:
        return {"points": flat}
    points = []
    for k in range(0, len(flat), 3):
        visibility = flat[k + 2]
        if type(visibility) is float and visibility.is_integer():
            visibility = int(visibility)
        point: dict[str, Any] = {"x": flat[k], "y": flat[k + 1], "visibility": visibility}
        if names is not None and k // 3 < len(names):
            point["name"] = names[k // 3]
        points.append(point)
    value: dict[str, Any] = {"points": points}
    if skeleton:
        value["skeleton"] = skeleton
    return value


class Category:
    __slots__ = ("id", "keypoints", "name", "record", "skeleton")

    def __init__(self, record: dict[str, Any], cid: int, name: str) -> None:
        self.id = cid
        self.name = name
        self.record = record
        names = record.get("keypoints")
        self.keypoints: list[str] | None = (
            [str(n) for n in names] if isinstance(names, list) and names else None
        )
        skeleton = record.get("skeleton")
        self.skeleton: list[list[int]] | None = None
        if isinstance(skeleton, list) and skeleton:
            # COCO numbers keypoints from 1; ours from 0.
            self.skeleton = [
                [edge[0] - 1, edge[1] - 1]
                for edge in skeleton
                if isinstance(edge, list) and len(edge) == 2 and all(type(v) is int for v in edge)
            ]


def read_categories(raw: object, problems: FileProblems) -> dict[int, Category]:
    found: dict[int, Category] = {}
    if not isinstance(raw, list):
        problems.add("categories", "must be a list")
        return found
    for i, record in enumerate(raw):
        where = f"categories[{i}]"
        if not isinstance(record, dict):
            problems.add(where, "must be an object")
            continue
        cid = _int_id(record.get("id"))
        name = record.get("name")
        if cid is None:
            problems.add(where + ".id", "must be an integer")
        elif cid in found:
            problems.add(where + ".id", f"duplicate category id {cid}")
        elif not isinstance(name, str) or not name:
            problems.add(where + ".name", "must be a non-empty string")
        else:
            found[cid] = Category(record, cid, name)
    return found


def category_records(categories: dict[int, Category]) -> list[dict[str, Any]]:
    """What the dataset keeps: id, name, supercategory, keypoints and skeleton as in the file."""
    kept = ("id", "name", "supercategory", "keypoints", "skeleton")
    return [{key: c.record[key] for key in kept if key in c.record} for c in categories.values()]


class CocoReader:
    """A COCO ground-truth file, parsed whole (orjson), then yielded in chunks."""

    def __init__(self, data: bytes, images_root: str | None) -> None:
        self.problems = FileProblems()
        self.images_root = images_root
        self.document = load_json(data, self.problems)
        self.categories: dict[int, Category] = {}
        if self.document is not None and not isinstance(self.document, dict):
            self.problems.add("file", "must be a JSON object with images, annotations, categories")
            self.document = None
        if self.document is not None:
            self.categories = read_categories(self.document.get("categories", []), self.problems)
            for name in ("images", "annotations"):
                if not isinstance(self.document.get(name, []), list):
                    self.problems.add(name, "must be a list")
                    self.document = None
                    break

    def total_rows(self) -> int:
        if self.document is None:
            return 0
        return len(self.document.get("images", [])) + len(self.document.get("annotations", []))

    def chunks(self, size: int) -> Iterator[Chunk]:
        if self.document is None:
            return
        images: set[int] = set()
        chunk = Chunk("items")
        for i, image in enumerate(self.document.get("images", [])):
            where = f"images[{i}]"
            if not isinstance(image, dict):
                self.problems.add(where, "must be an object")
                continue
            iid = _int_id(image.get("id"))
            if iid is None:
                self.problems.add(where + ".id", "must be an integer")
                continue
            if iid in images:
                self.problems.add(where + ".id", f"duplicate image id {iid}")
                continue
            images.add(iid)
            file_name = image.get("file_name")
            url = None
            if isinstance(file_name, str) and file_name:
                url = (
                    f"{self.images_root.rstrip('/')}/{file_name}" if self.images_root else file_name
                )
            metadata: dict[str, Any] = {"cocoId": iid}
            if isinstance(file_name, str):
                metadata["fileName"] = file_name
            row: Row = {
                "reference_id": str(iid),
                "url": url,
                "width": image.get("width"),
                "height": image.get("height"),
                "metadata": metadata,
            }
            chunk.add(row, where)
            if len(chunk) >= size:
                yield chunk
                chunk = Chunk("items")
        if chunk.rows:
            yield chunk
        chunk = Chunk("annotations")
        seen: set[int] = set()
        for i, ann in enumerate(self.document.get("annotations", [])):
            where = f"annotations[{i}]"
            row_or_none = self._annotation(ann, where, images, seen)
            if row_or_none is None:
                continue
            chunk.add(row_or_none, where)
            if len(chunk) >= size:
                yield chunk
                chunk = Chunk("annotations")
        if chunk.rows:
            yield chunk

    def _annotation(self, ann: object, where: str, images: set[int], seen: set[int]) -> Row | None:
        if not isinstance(ann, dict):
            self.problems.add(where, "must be an object")
            return None
        aid = _int_id(ann.get("id"))
        iid = _int_id(ann.get("image_id"))
        cid = _int_id(ann.get("category_id"))
        bad = len(self.problems)
        if aid is None:
            self.problems.add(where + ".id", "must be an integer")
        elif aid in seen:
            self.problems.add(where + ".id", f"duplicate annotation id {aid}")
        if iid is None:
            self.problems.add(where + ".image_id", "must be an integer")
        elif iid not in images:
            self.problems.add(where + ".image_id", f"no image with id {iid} in images")
        category = self.categories.get(cid) if cid is not None else None
        if category is None:
            self.problems.add(where + ".category_id", f"no category with id {cid} in categories")
        if len(self.problems) > bad:
            return None
        assert aid is not None and category is not None
        seen.add(aid)
        iscrowd = ann.get("iscrowd", 0)
        row: Row = {
            "reference_id": str(iid),
            "annotation_id": str(aid),
            "label": category.name,
            "iscrowd": bool(iscrowd) if iscrowd in (0, 1, True, False) else iscrowd,
            "metadata": {"cocoCategoryId": cid},
        }
        if "area" in ann:
            row["area"] = ann["area"]
        if category.keypoints is not None and ann.get("keypoints") is not None:
            row["keypoints"] = coco_keypoints(
                ann["keypoints"], category.keypoints, category.skeleton
            )
            if isinstance(ann.get("bbox"), list):
                row["metadata"]["bbox"] = ann["bbox"]
        elif ann.get("bbox") is not None:
            row["box"] = coco_box(ann["bbox"])
        elif ann.get("segmentation") is not None:
            row["segmentation"] = coco_segmentation(ann["segmentation"])
        return row
