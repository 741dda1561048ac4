"""Masks kept as their compressed COCO strings, decoded only where a pair needs them.

A segm results file holds a mask per detection, but only the detections that
share an image and a label with a ground truth are ever compared: about a fifth
of them on COCO-like data. Decoding every string up front costs 4 bytes per run
(~260 MB for 376k detections against 70 MB of text) and the time to write them.
:class:`RleStrings` keeps the ASCII text end to end; the compiled mask IoU
decodes each prediction when its first pair comes. Every string is still checked
once (:meth:`RleStrings.problem`), so a malformed file is rejected whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np
from numpy.typing import NDArray

from sliceboard.evaluation.geometry import native
from sliceboard.evaluation.geometry.kernel import chunks
from sliceboard.evaluation.geometry.rle import RleBatch, run_sums
from sliceboard.evaluation.geometry.rle_codec import decode_strings_uint32


@dataclass(frozen=True, eq=False)
class RleStrings:
    """n masks as compressed strings.

    Attributes:
        chars: uint8 (C,) the strings' ASCII characters, end to end.
        offsets: int64 (n+1,); mask i is ``chars[offsets[i]:offsets[i+1]]``.
        heights, widths: int64 (n,) each mask's size.
    """

    chars: NDArray[np.uint8]
    offsets: NDArray[np.int64]
    heights: NDArray[np.int64]
    widths: NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.offsets.shape[0] - 1)

    def strings(self, first: int = 0, stop: int | None = None) -> list[bytes]:
        """The strings of masks [first, stop) as bytes."""
        stop = len(self) if stop is None else stop
        bounds = self.offsets[first : stop + 1]
        text = self.chars[bounds[0] : bounds[-1]].tobytes()
        cuts = (bounds - bounds[0]).tolist()
        return [text[a:b] for a, b in pairwise(cuts)]

    def decode(self) -> RleBatch:
        """All masks as run lengths."""
        counts, offsets = decode_strings_uint32(self.strings())
        return RleBatch(counts, offsets, self.heights, self.widths)

    def summaries(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Area (n,) and box (n, 4) of every mask (``mask.area``, ``mask.toBbox``), from the
        strings' runs without drawing a pixel: one compiled pass, else decoded a chunk of
        masks at a time.

        Raises:
            ValueError: ``mask i: <problem>`` for the first string that does not decode or
                does not fill its size.
        """
        n = len(self)
        area, bbox = np.empty(n), np.empty((n, 4))
        found = native.string_summaries(
            self.chars, self.offsets, self.heights, self.widths, area, bbox
        )
        if found is None:
            found = self.problem() or (-1, "")
            if found[0] < 0:
                for first, stop in chunks(np.diff(self.offsets)):
                    counts, offsets = decode_strings_uint32(self.strings(first, stop))
                    batch = RleBatch(
                        counts, offsets, self.heights[first:stop], self.widths[first:stop]
                    )
                    area[first:stop] = batch.area()
                    bbox[first:stop] = batch.bbox()
        if found[0] >= 0:
            raise ValueError(f"mask {found[0]}: {found[1]}")
        return area, bbox

    def problem(self) -> tuple[int, str] | None:
        """The first mask whose string does not decode or does not fill its size, with the
        reason; None when every mask is sound."""
        found = native.check_strings(self.chars, self.offsets, self.heights, self.widths)
        if found is not None:
            return None if found[0] < 0 else found
        lengths = np.diff(self.offsets)
        for first, stop in chunks(lengths):
            try:
                counts, offsets = decode_strings_uint32(self.strings(first, stop))
            except ValueError as err:
                index, _, reason = str(err).removeprefix("RLE string ").partition(": ")
                return first + int(index), reason
            pixels = self.heights[first:stop] * self.widths[first:stop]
            wrong = run_sums(counts, offsets) != pixels
            if wrong.any():
                return first + int(np.argmax(wrong)), native.SIZE_PROBLEM
        return None
