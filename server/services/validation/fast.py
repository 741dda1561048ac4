"""The well-formed common case of a batch, checked in one pass with no issue bookkeeping.

``validate_items`` / ``validate_annotations`` / ``validate_predictions`` first hand the batch to
the functions here. They accept a batch only when every row is certainly valid (plain text keys,
numbers of the exact JSON types within their bounds, no duplicate key, valid polygons) and then
return exactly the rows the field-by-field validators would (same values, same key order). On
the first doubt they return None and the caller runs the full validators over the whole batch,
which find and word every issue as before: the fast path decides nothing on its own.

Polygons are checked for the batch at once: their vertices become one coordinate array,
shapely 2 builds every ring and polygon in one call, and ``is_valid`` / ``area`` run vectorised
(the same GEOS routines over the same coordinates as one ``shapely.Polygon`` per row, so the
areas are equal to the last bit).

The cyclic garbage collector is paused while a batch is turned into rows (:func:`gc_paused`):
a batch allocates hundreds of thousands of small containers that all survive, and each of them
counts towards a collection that then walks every live object of the process again.
"""

from __future__ import annotations

import gc
import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import shapely

from sliceboard.clean_text import text_problem
from sliceboard.input_limits import input_limits
from sliceboard.services.validation.families import UPLOAD_FIELDS
from sliceboard.services.validation.fields import (
    LABEL_MAX,
    REFERENCE_ID_MAX,
    URL_MAX,
    check_area,
    check_class_pdf,
    check_classifications,
    check_confidence,
    check_custom_metrics,
    check_metadata,
)
from sliceboard.services.validation.geometry import parse_geometry
from sliceboard.services.validation.issues import Issues

Row = dict[str, Any]
_NUMBERS = (float, int)  # exact types: ``type(v) in _NUMBERS`` excludes bool
_NUMBER_SET = frozenset(_NUMBERS)
#: Input fields of every geometry but a box / a polygon, from the registry (one of them given
#: as well leaves the row to the general parser, which refuses two geometries).
_NOT_BOX = tuple(field for field, _, _ in UPLOAD_FIELDS if field != "box")
_NOT_POLYGON = tuple(field for field, _, _ in UPLOAD_FIELDS if field != "polygon")
#: ``tuple(map(raw.get, _NOT_BOX)) == _NONE_BUT_BOX``: none of them given (None compares by
#: identity first; any JSON value other than null is unequal to None).
_NONE_BUT_BOX = (None,) * len(_NOT_BOX)
_NONE_BUT_POLYGON = (None,) * len(_NOT_POLYGON)


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic collection inside the block (nothing it allocates is cyclic garbage)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _text(value: object, max_length: int) -> bool:
    """``check_text``'s accepted values (``is_plain_text``), ASCII tested first."""
    return (
        type(value) is str
        and 0 < len(value) <= max_length
        and not value.isspace()
        and "\x00" not in value
        and (value.isascii() or text_problem(value) is None)
    )


def _bounds() -> tuple[float, float]:
    """The coordinate and rotation bounds, finite (a finite number is checked against them)."""
    limits = input_limits()
    top = sys.float_info.max
    return min(limits.coordinate, top), min(limits.rotation, top)


class _Polygons:
    """Plain polygons (no holes) of a batch, checked together once the batch is read."""

    __slots__ = ("counts", "own_area", "rows", "xs", "ys")

    def __init__(self) -> None:
        self.rows: list[Row] = []
        self.own_area: list[bool] = []
        self.counts: list[int] = []
        self.xs: list[float] = []
        self.ys: list[float] = []

    def add(self, row: Row, vertices: object, own_area: bool) -> bool:
        """Takes the row's vertices; False when they are not a plain list of >= 3 {x, y}."""
        if type(vertices) is not list or len(vertices) < 3:
            return False
        for point in vertices:
            if type(point) is not dict:
                return False
        xs = [point.get("x") for point in vertices]
        ys = [point.get("y") for point in vertices]
        if not {*map(type, xs), *map(type, ys)} <= _NUMBER_SET:
            return False
        self.xs += xs  # type: ignore[arg-type]
        self.ys += ys  # type: ignore[arg-type]
        self.counts.append(len(xs))
        self.rows.append(row)
        self.own_area.append(own_area)
        return True

    def finish(self, bound: float) -> bool:
        """Fills each row's geometry (and area); False when any polygon is not accepted."""
        if not self.rows:
            return True
        coords = np.empty((len(self.xs), 2), dtype=np.float64)
        coords[:, 0] = self.xs
        coords[:, 1] = self.ys
        if not bool((np.abs(coords) <= bound).all()):  # NaN and infinity fail too
            return False
        counts = np.asarray(self.counts, dtype=np.int64)
        try:
            rings = shapely.linearrings(coords, indices=np.repeat(np.arange(counts.size), counts))
            shapes = shapely.polygons(rings)
        except (shapely.errors.GEOSException, ValueError):
            return False
        areas = shapely.area(shapes)
        if not (bool(shapely.is_valid(shapes).all()) and bool((areas > 0).all())):
            return False
        points = coords.tolist()
        start = 0
        for row, count, own, area in zip(
            self.rows, self.counts, self.own_area, areas.tolist(), strict=True
        ):
            row["geometry"] = {"vertices": points[start : start + count], "holes": []}
            if own:
                row["area"] = area
            start += count
        return True


def fast_objects(raw_rows: list[Any], *, predictions: bool) -> list[Row] | None:
    """The rows ``validate_annotations`` / ``validate_predictions`` would return for a batch
    without issues, or None when the batch is not plainly well-formed (then they decide)."""
    bound, rotation_bound = _bounds()
    scratch = Issues()
    polygons = _Polygons()
    seen: set[tuple[object, object]] = set()
    rows: list[Row] = []
    for raw in raw_rows:
        if type(raw) is not dict:
            return None
        ref = raw.get("reference_id")
        key = raw.get("annotation_id")
        label = raw.get("label")
        if not (
            _text(ref, REFERENCE_ID_MAX)
            and _text(key, REFERENCE_ID_MAX)
            and _text(label, LABEL_MAX)
        ):
            return None
        pair = (ref, key)
        if pair in seen:
            return None
        seen.add(pair)
        metadata = raw.get("metadata")
        if metadata is not None:
            metadata = check_metadata(metadata, "", scratch)
        classifications = raw.get("classifications")
        if classifications is not None:
            classifications = check_classifications(classifications, "", scratch)
        area_raw = raw.get("area")
        area = None if area_raw is None else check_area(area_raw, "", scratch)
        if scratch:
            return None
        row: Row = {
            "reference_id": ref,
            "annotation_id": key,
            "label": label,
            "type": "BOX",
            "geometry": None,
            "area": area,
            "metadata": metadata,
            "classifications": classifications,
        }
        box = raw.get("box")
        polygon = raw.get("polygon")
        if box is not None and tuple(map(raw.get, _NOT_BOX)) == _NONE_BUT_BOX:
            if type(box) is not dict:
                return None
            x, y = box.get("x"), box.get("y")
            width, height = box.get("width"), box.get("height")
            rotation = box.get("rotation")
            if rotation is None:
                rotation = 0.0
            if not (
                type(x) in _NUMBERS
                and type(y) in _NUMBERS
                and type(width) in _NUMBERS
                and type(height) in _NUMBERS
                and type(rotation) in _NUMBERS
                and 0 < width <= bound  # type: ignore[operator]
                and 0 < height <= bound  # type: ignore[operator]
                and abs(x) <= bound  # type: ignore[arg-type]
                and abs(y) <= bound  # type: ignore[arg-type]
                and abs(rotation) <= rotation_bound  # type: ignore[arg-type]
            ):
                return None
            width, height = float(width), float(height)  # type: ignore[arg-type]
            own_area = width * height
            if not math.isfinite(own_area):
                return None
            row["geometry"] = {
                "x": float(x),  # type: ignore[arg-type]
                "y": float(y),  # type: ignore[arg-type]
                "width": width,
                "height": height,
                "rotation": float(rotation),  # type: ignore[arg-type]
            }
            if area_raw is None:
                row["area"] = own_area
        elif (
            type(polygon) is dict
            and _no_holes(polygon.get("holes"))
            and tuple(map(raw.get, _NOT_POLYGON)) == _NONE_BUT_POLYGON
        ):
            row["type"] = "POLYGON"
            if not polygons.add(row, polygon.get("vertices"), area_raw is None):
                return None
        else:
            parsed = _general(raw, scratch)
            if parsed is None or scratch:
                return None
            row["type"], row["geometry"], own = parsed
            if area_raw is None:
                row["area"] = own
        if predictions:
            confidence = raw.get("confidence")
            if not (type(confidence) is float and 0.0 <= confidence <= 1.0):
                confidence = check_confidence(confidence, "", scratch)
            class_pdf = raw.get("class_pdf")
            if class_pdf is not None:
                class_pdf = check_class_pdf(class_pdf, "", scratch)
            metrics = raw.get("custom_metrics")
            if metrics is not None:
                metrics = check_custom_metrics(metrics, "", scratch)
            if scratch:
                return None
            row["confidence"] = confidence
            row["class_pdf"] = class_pdf
            row["custom_metrics"] = metrics
        else:
            iscrowd = raw.get("iscrowd")
            if iscrowd is not None and type(iscrowd) is not bool:
                return None
            row["iscrowd"] = bool(iscrowd)
        rows.append(row)
    if not polygons.finish(bound):
        return None
    return rows


def _no_holes(holes: object) -> bool:
    return holes is None or (type(holes) is list and not holes)


def _general(raw: Row, scratch: Issues) -> tuple[str, Any, Any] | None:
    """Any other geometry (or none) through the registry's parser; a semantic mask (its label
    defaulted, its mask resolved later) is left to the full validators."""
    if raw.get("semantic_segmentation") is not None:
        return None
    return parse_geometry(raw, "", scratch)


def fast_items(raw_rows: list[Any]) -> list[Row] | None:
    """The rows ``validate_items`` would return for a batch without issues, or None."""
    scratch = Issues()
    seen: set[str] = set()
    rows: list[Row] = []
    for raw in raw_rows:
        if type(raw) is not dict:
            return None
        ref = raw.get("reference_id")
        if not _text(ref, REFERENCE_ID_MAX) or ref in seen:
            return None
        seen.add(ref)  # type: ignore[arg-type]
        url = raw.get("url")
        if url is not None and not (
            type(url) is str
            and len(url) <= URL_MAX
            and "\x00" not in url
            and (url.isascii() or text_problem(url) is None)
        ):
            return None
        width, height = raw.get("width"), raw.get("height")
        if width is not None and not (type(width) is int and width > 0):
            return None
        if height is not None and not (type(height) is int and height > 0):
            return None
        metadata = raw.get("metadata")
        if metadata is not None:
            metadata = check_metadata(metadata, "", scratch)
            if scratch:
                return None
        rows.append(
            {
                "reference_id": ref,
                "url": url,
                "width": width,
                "height": height,
                "metadata": metadata,
            }
        )
    return rows
