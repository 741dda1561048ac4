"""The common segm results file - compressed RLE masks with boxes - read slice by slice.

For ``--iou-type segm`` with every detection ``{"image_id", "category_id", "score",
"bbox": [x, y, w, h], "segmentation": {"size": [h, w], "counts": "<compressed>"}}``
(what pycocotools' ``encode`` and most detectors write), loadRes' rules reduce to
columns, ``area = w * h`` and the mask as given. Each slice of the array (see
slices.py) is turned into columns and its strings are copied end to end and
checked (each must decode and fill its size), then freed: peak memory is the
file's bytes plus the strings' characters instead of the parsed file's dicts and
strings (about three times its size), and the runs are decoded only for the
detections a ground truth is compared with (see rle_strings.py). Anything else - a polygon or
uncompressed mask, a malformed string, a size that is not the image's - declines
with :class:`NotStreamable`, and the full reader in results.py names the object.

A file whose first detection has no ``bbox`` (or ``[]``) takes loadRes' segm branch:
every detection's area is its mask's pixel count and its box the mask's ``toBbox``
(any ``bbox`` of a later detection is not read: a segm evaluation never looks at it).
Both are found from the run lengths while each string is checked (``native.segm_columns``
with an area column, or :meth:`RleStrings.summaries`), so this form stays on the same
path at the same cost instead of parsing the whole file and decoding every mask.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import partial
from itertools import chain
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from sliceboard.cocofiles.box_results import (
    EARLY_SHARE,
    BoxColumns,
    BoxPart,
    check_boxes,
    id_ranks,
    joined_boxes,
    slice_columns,
)
from sliceboard.cocofiles.columns import GrowingColumn
from sliceboard.cocofiles.ground_truth import CocoGroundTruth
from sliceboard.cocofiles.halves import Alloc, SecondPart, read_in_halves, release
from sliceboard.cocofiles.slices import NotStreamable, first_element
from sliceboard.evaluation.geometry import native
from sliceboard.evaluation.geometry.rle_strings import RleStrings

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
#: no detection with a mask is shorter than this many bytes
_MIN_OBJECT_BYTES = 64
#: check the strings once this many characters are pending (numpy passes over a few
#: hundred thousand elements amortise their per-call cost and stay in cache)
_CHECK_CHARS = 1 << 18


class MaskColumns(NamedTuple):
    """The box columns and masks; ``area`` (n,) the masks' pixel counts when the boxes and
    areas come from the masks (:func:`boxes_from_masks`), else None (area is w * h)."""

    boxes: BoxColumns
    masks: RleStrings
    area: FloatArray | None = None


def boxes_from_masks(data: bytes) -> bool:
    """Whether loadRes takes the detections' boxes and areas from their masks: its branch
    is decided by the first detection alone, which has a segmentation and no ``bbox``
    (or ``bbox: []``).

    Raises:
        NotStreamable: no first detection, or not one the streamed readers take.
    """
    first = first_element(data)  # none: the full reader's branch rules apply
    if type(first) is not dict:
        raise NotStreamable
    if "bbox" in first and first["bbox"] != []:
        return False
    if "segmentation" not in first:
        raise NotStreamable  # the keypoints branch, or an error the full reader names
    return True


class MaskPart(BoxPart):
    """The columns and mask strings of one part of the file (see halves.py).

    Characters get room for the whole file (pages never written cost nothing), so
    the second part's can be appended in place.
    """

    def __init__(
        self, n_bytes: int, alloc: Alloc, *, file_bytes: int, from_masks: bool = False
    ) -> None:
        super().__init__(n_bytes, alloc)
        capacity = n_bytes // _MIN_OBJECT_BYTES + 1
        # boxes and areas from the masks (:func:`boxes_from_masks`): the areas' column
        self.area = (
            GrowingColumn(capacity, np.float64, buffer=alloc(capacity, np.float64, 0))
            if from_masks
            else None
        )
        self.chars = GrowingColumn(
            file_bytes + 1, np.uint8, buffer=alloc(file_bytes + 1, np.uint8, 0)
        )
        self.ends, self.heights, self.widths = (
            GrowingColumn(capacity, np.int64, buffer=alloc(capacity, np.int64, 0)) for _ in range(3)
        )
        self._checked = 0  # masks whose strings were checked

    def columns(self) -> Sequence[GrowingColumn]:
        own = (self.chars, self.ends, self.heights, self.widths)
        return (*super().columns(), *own, *([] if self.area is None else [self.area]))

    def add(self, part: BoxColumns) -> None:
        super().add(part)
        if self.area is not None:  # filled from the masks (add_compiled, flush)
            self.area.extend(np.zeros(part.item.shape[0]))

    def add_masks(self, strings: list[str], heights: IntArray, widths: IntArray) -> None:
        try:
            text = "".join(strings).encode("ascii")
        except UnicodeEncodeError:
            raise NotStreamable from None  # the full reader names the string
        lengths = np.fromiter(map(len, strings), dtype=np.int64, count=len(strings))
        self.ends.extend(np.cumsum(lengths) + self.chars.size)
        self.chars.extend(np.frombuffer(text, dtype=np.uint8))
        self.heights.extend(heights)
        self.widths.extend(widths)
        start = int(self.ends.array()[self._checked - 1]) if self._checked else 0
        if self.chars.size - start >= _CHECK_CHARS:
            self.flush()

    def add_compiled(self, items: list[Any], gt: CocoGroundTruth | None) -> bool:
        """Adds a slice in one compiled pass (``native.segm_columns``): False, having added
        nothing, when the C module is missing or the slice is not the plain case.

        Raises:
            NotStreamable: a string that does not decode or fill its size, or a size
                that is not its image's.
        """
        n = len(items)
        ids, heights_widths = np.empty((n, 2), np.int64), np.empty((n, 2), np.int64)
        score, bbox, ends = np.empty(n), np.empty((n, 4)), np.empty(n, np.int64)
        area = None if self.area is None else np.empty(n)
        try:
            used = native.segm_columns(
                items,
                ids,
                score,
                bbox,
                heights_widths,
                ends,
                self.chars.buffer,
                self.chars.size,
                area,
            )
        except ValueError:
            raise NotStreamable from None  # the full reader names the string
        if used is None:
            return False
        item, label = id_ranks(ids, gt)
        heights, widths = heights_widths[:, 0].copy(), heights_widths[:, 1].copy()
        if gt is not None:
            _check_sizes(gt, item, heights, widths)
        self.flush()  # strings added by the other path are checked first
        self.ends.extend(ends)
        self.chars.size = used
        self.heights.extend(heights)
        self.widths.extend(widths)
        self._checked = self.ends.size
        self.add(BoxColumns(item, label, score, bbox))
        if self.area is not None and area is not None:
            self.area.array()[-n:] = area
        return True

    def flush(self) -> None:
        """Checks the strings added since the last check: each must decode and fill its
        size (else the full reader says which does not)."""
        first, n = self._checked, self.ends.size
        if first == n:
            return
        ends = self.ends.array()
        base = int(ends[first - 1]) if first else 0
        offsets = np.empty(n - first + 1, dtype=np.int64)
        offsets[0] = 0
        np.subtract(ends[first:n], base, out=offsets[1:])
        chars = self.chars.array()[base : int(ends[n - 1])]
        strings = RleStrings(
            chars, offsets, self.heights.array()[first:n], self.widths.array()[first:n]
        )
        if self.area is not None:  # the box columns of these masks were added first
            try:
                self.area.array()[first:n], self.bbox.array()[first:n] = strings.summaries()
            except ValueError:
                raise NotStreamable from None
        elif strings.problem() is not None:
            raise NotStreamable
        self._checked = n


def _joined_masks(parts: Sequence[MaskPart]) -> RleStrings:
    """The parts' masks end to end; the second part's characters move into the first's
    buffer."""
    first = parts[0]
    ends = [first.ends.array()]
    for part in parts[1:]:
        shift = first.chars.size
        chars = part.chars.array()
        for lo in range(0, chars.shape[0], _MOVE_CHARS):
            first.chars.extend(chars[lo : lo + _MOVE_CHARS])
            release(chars[lo : lo + _MOVE_CHARS])  # shared pages, freed as they are copied
        ends.append(part.ends.array() + shift)
    offsets = np.concatenate([np.zeros(1, np.int64), *ends])
    heights = np.concatenate([p.heights.array() for p in parts])
    widths = np.concatenate([p.widths.array() for p in parts])
    return RleStrings(first.chars.array(), offsets, heights, widths)


#: characters copied (and their shared pages released) at a time when joining parts
_MOVE_CHARS = 1 << 24


def _reader(gt: CocoGroundTruth | None) -> Callable[[MaskPart, Iterable[list[Any]]], None]:
    """Reads slices into a part; without ``gt`` the file's own ids are kept and the image
    sizes are checked later (:func:`start_masks`)."""

    def read(part: MaskPart, slices: Iterable[list[Any]]) -> None:
        for items in slices:
            if not items:
                continue
            if part.add_compiled(items, gt):
                continue
            boxes = slice_columns(items, gt, with_boxes=part.area is None)
            strings, heights, widths = _slice_masks(items)
            if gt is not None:
                _check_sizes(gt, boxes.item, heights, widths)
            part.add(boxes)  # before the masks: checking them may fill boxes from them
            part.add_masks(strings, heights, widths)
        part.flush()

    return read


def _check_sizes(gt: CocoGroundTruth, item: IntArray, heights: IntArray, widths: IntArray) -> None:
    if (item < 0).any():
        raise NotStreamable
    if not (
        np.array_equal(gt.image_heights[item], heights)
        and np.array_equal(gt.image_widths[item], widths)
    ):
        raise NotStreamable  # includes images of unknown size (-1)


def start_masks(data: bytes) -> SecondPart[MaskPart] | None:
    """A forked child reading the detections after a cut at about ``EARLY_SHARE`` of
    ``data`` before the ground truth is read (see box_results.start_boxes); None when the
    file's first detection already shows it is not streamable."""
    try:
        from_masks = boxes_from_masks(data)
    except NotStreamable:
        return None
    new_part = partial(MaskPart, file_bytes=len(data), from_masks=from_masks)
    return SecondPart.start(data, new_part, _reader(None), EARLY_SHARE)


def streamed_masks(
    data: bytes, gt: CocoGroundTruth, started: SecondPart[MaskPart] | None = None
) -> MaskColumns:
    """The detections of ``data`` (a results file's bytes) as columns and masks, in file order.

    ``started``: :func:`start_masks` of ``data``, which reads the part after its cut.

    Raises:
        NotStreamable: not the clean case; read the file with the full reader.
    """
    read = _reader(gt)
    from_masks = boxes_from_masks(data)
    if started is not None and (started.part.area is not None) != from_masks:
        started.cancel()  # pragma: no cover - both read the same first detection
        started = None
    if started is None:
        new_part = partial(MaskPart, file_bytes=len(data), from_masks=from_masks)
        parts = read_in_halves(data, new_part, read)
        boxes = joined_boxes(parts)
    else:
        parts = started.finish(read)
        boxes = joined_boxes(parts, file_ids=gt)
        if len(parts) == 2:  # the child's part: sizes checked now that its images are known
            second = parts[1]
            n_first = parts[0].item.size
            _check_sizes(gt, boxes.item[n_first:], second.heights.array(), second.widths.array())
    check_boxes(boxes)
    area = None
    if from_masks:
        area = np.concatenate([p.area.array() for p in parts if p.area is not None])
    return MaskColumns(boxes, _joined_masks(parts), area)


def _slice_masks(items: list[Any]) -> tuple[list[str], IntArray, IntArray]:
    """Compressed strings and sizes of one slice's segmentations, or NotStreamable."""
    try:
        segmentations = [item["segmentation"] for item in items]
        if set(map(type, segmentations)) != {dict}:
            raise NotStreamable
        strings = [s["counts"] for s in segmentations]
        sizes = [s["size"] for s in segmentations]
    except KeyError:
        raise NotStreamable from None
    if set(map(type, strings)) != {str} or set(map(type, sizes)) != {list}:
        raise NotStreamable
    if set(map(type, chain.from_iterable(sizes))) != {int}:
        raise NotStreamable
    try:
        array = np.array(sizes, dtype=np.int64)
    except (ValueError, OverflowError):
        raise NotStreamable from None
    if array.shape != (len(items), 2):
        raise NotStreamable
    return strings, array[:, 0].copy(), array[:, 1].copy()
