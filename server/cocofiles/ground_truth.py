"""A COCO ground-truth file as engine arrays, with pycocotools' ``COCO()`` + ``_prepare`` rules.

- Items are the distinct image ids, sorted; labels the distinct category ids,
  sorted (``params.imgIds`` / ``params.catIds``). Images without annotations and
  categories without objects are kept: they count as pycocotools counts them.
- ``area`` is the file's field (it alone decides small/medium/large).
- ``iscrowd`` missing means 0. pycocotools overwrites any ``ignore`` field with
  ``iscrowd`` in ``_prepare``, so ``ignore`` in the file changes nothing here either.
- keypoints: an object with ``num_keypoints == 0`` is ignored.
- segm: polygons and uncompressed RLE become RLE with the image's size.

Unlike pycocotools, which silently drops an annotation whose image or category is
not declared, such a file is rejected: it is broken and the numbers would mislead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from sliceboard.cocofiles.columns import GrowingColumn, Records, parse_json, read_bytes
from sliceboard.cocofiles.errors import CocoFileError, short_repr
from sliceboard.cocofiles.ids import CocoId, IdIndex
from sliceboard.cocofiles.masks import masks_of
from sliceboard.cocofiles.slices import MemberSlices, NotStreamable
from sliceboard.evaluation.geometry.rle import RleBatch

IouType = Literal["bbox", "segm", "keypoints"]
IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
#: COCO person keypoints: pycocotools' OKS sigmas are for exactly these 17.
COCO_KEYPOINTS = 17


@dataclass(frozen=True)
class CocoGroundTruth:
    """G ground-truth objects over the file's images (items) and categories (labels).

    Attributes:
        path: the file, as named in error messages.
        iou_type: what the arrays were prepared for.
        image_ids: item index -> image id (sorted as pycocotools sorts them).
        image_heights, image_widths: int64 (n_items,) image sizes (-1 when unknown).
        category_ids: label index -> category id (sorted).
        item, label: int64 (G,) indices, in file order.
        area: float64 (G,) the ``area`` field.
        iscrowd, ignore: bool (G,) crowd region; ignored (crowd, or no keypoints).
        bbox: float64 (G, 4) xywh (zeros in segm mode, which does not read it).
        masks: RLE per object in segm mode, else None.
        keypoints: float64 (G, 51) in keypoints mode, else None.
        warnings: where these numbers knowingly differ from pycocotools'.
    """

    path: str
    iou_type: IouType
    image_ids: list[CocoId]
    image_heights: IntArray
    image_widths: IntArray
    category_ids: list[CocoId]
    images: IdIndex
    categories: IdIndex
    item: IntArray
    label: IntArray
    area: FloatArray
    iscrowd: BoolArray
    ignore: BoolArray
    bbox: FloatArray
    masks: RleBatch | None
    keypoints: FloatArray | None
    warnings: tuple[str, ...] = ()

    def __len__(self) -> int:
        return int(self.item.shape[0])


def _where(kind: str, items: list[Any]) -> Callable[[int], str]:
    def where(i: int) -> str:
        obj = items[i] if isinstance(items, list) and i < len(items) else None
        return _describe(kind, i, obj)

    return where


def _describe(kind: str, i: int, obj: object) -> str:
    """``annotation 17 (id 5, image_id 42)``: object ``i`` of a list, for a message."""
    if not isinstance(obj, dict):
        return f"{kind} {i}"
    keys = [k for k in ("id", "image_id") if k in obj]
    details = ", ".join(f"{k} {short_repr(obj[k], 30)}" for k in keys)
    return f"{kind} {i} ({details})" if details else f"{kind} {i}"


def load_ground_truth(path: str, iou_type: IouType) -> CocoGroundTruth:
    """Reads and validates a COCO ground-truth file.

    Raises:
        CocoFileError: the file is unreadable, not JSON, or an object in it is not
            what pycocotools needs for ``iou_type`` (the message names it).
    """
    raw = read_bytes(path)
    if iou_type in ("bbox", "keypoints"):
        try:
            return _streamed_boxes(path, raw, iou_type)
        except NotStreamable:
            pass
    data = parse_json(path, raw)
    del raw
    if type(data) is not dict:
        raise CocoFileError(
            path, "", "ground truth must be a JSON object with images, annotations, categories"
        )
    for key in ("images", "categories"):
        if key not in data:
            raise CocoFileError(
                path, key, "missing (a ground-truth file needs images and categories)"
            )
    images = Records(path, data["images"], "images", _where("image", data["images"]))
    cats = Records(path, data["categories"], "categories", _where("category", data["categories"]))
    raw_anns = data.get("annotations", [])
    anns = Records(path, raw_anns, "annotations", _where("annotation", raw_anns))

    image_index = IdIndex(images)
    category_index = IdIndex(cats)
    heights, widths = _image_sizes(images, image_index, iou_type == "segm")

    item = image_index.lookup(anns.column("image_id"))
    if (item < 0).any():
        anns.fail(int(np.argmax(item < 0)), "image_id not in images")
    label = category_index.lookup(anns.column("category_id"))
    if (label < 0).any():
        anns.fail(int(np.argmax(label < 0)), "category_id not in categories")

    area = anns.numbers("area")
    iscrowd = _flags(anns, "iscrowd")
    ignore = iscrowd.copy()
    bbox = np.zeros((len(anns), 4), dtype=np.float64)
    masks = keypoints = None
    if iou_type in ("bbox", "keypoints"):
        bbox = anns.vectors("bbox", anns.column("bbox"), 4)
    if iou_type == "segm":
        rows = np.arange(len(anns), dtype=np.int64)
        masks = masks_of(anns, rows, anns.column("segmentation"), heights[item], widths[item])
    if iou_type == "keypoints":
        keypoints = anns.vectors("keypoints", anns.column("keypoints"), 3 * COCO_KEYPOINTS)
        ignore |= anns.numbers("num_keypoints") == 0
    return CocoGroundTruth(
        path=path,
        iou_type=iou_type,
        image_ids=image_index.ids,
        image_heights=heights,
        image_widths=widths,
        category_ids=category_index.ids,
        images=image_index,
        categories=category_index,
        item=item,
        label=label,
        area=area,
        iscrowd=iscrowd,
        ignore=ignore,
        bbox=bbox,
        masks=masks,
        keypoints=keypoints,
        warnings=_id_zero_warning(anns),
    )


def _streamed_boxes(path: str, raw: bytes, iou_type: IouType = "bbox") -> CocoGroundTruth:
    """The bbox (or keypoints) ground truth with its annotations read slice by slice (see
    slices.py).

    Each slice goes through the same Records checks as the whole list would; any
    problem (or an unusual layout) declines with NotStreamable, and the full
    reader names it. For keypoints, ``keypoints`` and ``num_keypoints`` are read too
    (an object without keypoints is ignored, as in the full reader).
    """
    member = MemberSlices(raw, "annotations")
    # Each slice is copied into whole-file columns: keeping per-slice objects alive
    # would pin the parser's memory arenas (see GrowingColumn).
    capacity = len(raw) // 32 + 1
    image_ids, category_ids = GrowingColumn(capacity, np.int64), GrowingColumn(capacity, np.int64)
    area, iscrowd = GrowingColumn(capacity, np.float64), GrowingColumn(capacity, np.bool_)
    bbox = GrowingColumn(capacity, np.float64, 4)
    with_keypoints = iou_type == "keypoints"
    width = 3 * COCO_KEYPOINTS if with_keypoints else 0
    # 51 numbers take at least 102 bytes: the keypoints' column is sized for that
    keypoints = GrowingColumn(len(raw) // 100 + 1 if width else 0, np.float64, max(width, 1))
    no_keypoints = GrowingColumn(capacity if width else 0, np.bool_)
    seen = 0
    zero_id: str | None = None
    try:
        for items in member:
            anns = Records(path, items, "annotations", _where("annotation", items))
            image_ids.extend(_integer_ids(anns.column("image_id")))
            category_ids.extend(_integer_ids(anns.column("category_id")))
            area.extend(anns.numbers("area"))
            iscrowd.extend(_flags(anns, "iscrowd"))
            bbox.extend(anns.vectors("bbox", anns.column("bbox"), 4))
            if with_keypoints:
                keypoints.extend(anns.vectors("keypoints", anns.column("keypoints"), width))
                no_keypoints.extend(anns.numbers("num_keypoints") == 0)
            ids = anns.column_or("id", None)
            if zero_id is None and 0 in ids:
                i = ids.index(0)
                zero_id = _describe("annotation", seen + i, items[i])
            seen += len(items)
        if not seen:
            raise NotStreamable  # no annotations: the full reader's defaults apply
        data = member.rest()
        if "images" not in data or "categories" not in data:
            raise NotStreamable
        images = Records(path, data["images"], "images", _where("image", data["images"]))
        cats = Records(
            path, data["categories"], "categories", _where("category", data["categories"])
        )
        image_index = IdIndex(images)
        category_index = IdIndex(cats)
        heights, widths = _image_sizes(images, image_index, False)
    except CocoFileError:
        raise NotStreamable from None
    item = image_index.lookup_integers(image_ids.array())
    label = category_index.lookup_integers(category_ids.array())
    if (item < 0).any() or (label < 0).any():
        raise NotStreamable
    return CocoGroundTruth(
        path=path,
        iou_type=iou_type,
        image_ids=image_index.ids,
        image_heights=heights,
        image_widths=widths,
        category_ids=category_index.ids,
        images=image_index,
        categories=category_index,
        item=item,
        label=label,
        area=area.array(),
        iscrowd=iscrowd.array(),
        ignore=iscrowd.array() | no_keypoints.array() if with_keypoints else iscrowd.array().copy(),
        bbox=bbox.array(),
        masks=None,
        keypoints=keypoints.array() if with_keypoints else None,
        warnings=() if zero_id is None else (_zero_id_text(path, zero_id),),
    )


def _integer_ids(values: list[Any]) -> IntArray:
    """64-bit integer ids as an array; any other ids (strings, huge) are for the full reader."""
    try:
        array = np.array(values)
    except (ValueError, TypeError, OverflowError):
        raise NotStreamable from None
    if array.ndim != 1 or array.dtype != np.int64:
        raise NotStreamable
    return array


def _id_zero_warning(anns: Records) -> tuple[str, ...]:
    ids = anns.column_or("id", None)
    if 0 not in ids:
        return ()
    return (_zero_id_text(anns.file, anns.where(ids.index(0))),)


def _zero_id_text(file: str, where: str) -> str:
    """pycocotools stores matched gt ids with 0 meaning "unmatched", so a prediction that
    matches the gt with id 0 counts as a false positive there; here it is a true positive
    (as in hotcoco). Files numbered from 0 (e.g. some exporters') are common enough to say so.
    """
    return (
        f"{file}: {where}: annotation id 0 - pycocotools counts a detection "
        "matching it as a false positive; this evaluation counts it as a true positive"
    )


def _flags(records: Records, key: str) -> BoolArray:
    """A 0/1 (or boolean) field that defaults to 0, as pycocotools reads ``iscrowd``."""
    values = records.column_or(key, 0)
    try:
        array = np.array(values)
    except (ValueError, TypeError):
        array = np.zeros(0)
    if array.shape != (len(values),) or array.dtype.kind not in "biuf":
        for i, v in enumerate(values):
            if type(v) not in (int, float, bool):
                records.fail(i, f"{key} must be 0 or 1, got {short_repr(v)}")
    return np.asarray(array != 0, dtype=bool).reshape(len(values))


def _image_sizes(images: Records, index: IdIndex, needed: bool) -> tuple[IntArray, IntArray]:
    """Height and width per item, -1 when unknown (only segm needs them).

    For duplicate image ids the last entry wins, as in pycocotools' ``imgs`` dict.
    """
    n = len(index)
    heights = np.full(n, -1, dtype=np.int64)
    widths = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return heights, widths
    if not needed and not all("height" in i and "width" in i for i in images.items):
        return heights, widths
    h = images.numbers("height")
    w = images.numbers("width")
    for name, values in (("height", h), ("width", w)):
        bad = (values < 0) | (values != np.floor(values)) | (values >= 2**31)
        if bad.any():
            images.fail(int(np.argmax(bad)), f"{name} must be an integer in [0, 2**31)")
    heights[index.of_record] = h.astype(np.int64)
    widths[index.of_record] = w.astype(np.int64)
    return heights, widths
