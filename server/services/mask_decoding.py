"""A semantic mask PNG -> its label map, checked whole against its item and its segments.

Accepted: 8-bit (grey or palette: the palette index is the value) and 16-bit single-channel
PNGs. The size must be the item's; every value must be a declared segment index or the
dataset's ignore index. The image size is checked before any pixel is decoded, so a small file
claiming a huge image costs nothing.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image

from sliceboard.evaluation.label_maps import LabelMap

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Pillow's modes for single-channel 8- and 16-bit PNGs ("I" is how some versions open 16-bit).
SINGLE_CHANNEL = frozenset({"L", "P", "I;16", "I;16B", "I;16L", "I"})
SHOWN_INDICES = 8


class MaskProblem(ValueError):
    """The mask is unusable; the message says why, for the user."""


@dataclass(frozen=True, eq=False)
class DecodedMask:
    label_map: LabelMap
    labelled_pixels: int  # pixels not at the ignore index


def decode_mask(
    data: bytes, *, height: int, width: int, declared: set[int], ignore_index: int
) -> DecodedMask:
    if not data.startswith(PNG_SIGNATURE):
        raise MaskProblem("the mask is not a PNG file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=["PNG"])
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning) as error:
        raise MaskProblem(f"the mask is not a readable PNG ({error})") from None
    with image:
        if image.mode not in SINGLE_CHANNEL:
            raise MaskProblem(
                f"the mask must be a single-channel 8- or 16-bit PNG; this one is mode {image.mode}"
            )
        if image.size != (width, height):
            raise MaskProblem(
                f"the mask is {image.size[0]}x{image.size[1]} (width x height) but the item is "
                f"{width}x{height}"
            )
        try:
            image.load()
        except (OSError, SyntaxError, ValueError) as error:
            raise MaskProblem(f"the mask PNG is truncated or corrupt ({error})") from None
        array = np.asarray(image)
    if array.ndim != 2:
        raise MaskProblem("the mask must be a single-channel PNG")
    values = array.astype(np.uint16, copy=False) if array.dtype != np.uint8 else array
    if int(values.max(initial=0)) > 65_535 or int(values.min(initial=0)) < 0:
        raise MaskProblem("mask values must be from 0 to 65535")
    counts = np.bincount(values.ravel())
    present = set(np.flatnonzero(counts).tolist())
    undeclared = sorted(present - declared - {ignore_index})
    if undeclared:
        shown = ", ".join(map(str, undeclared[:SHOWN_INDICES]))
        more = (
            f" and {len(undeclared) - SHOWN_INDICES} more"
            if len(undeclared) > SHOWN_INDICES
            else ""
        )
        raise MaskProblem(
            f"the mask holds index {shown}{more}, which no segment declares and which is not "
            f"the dataset's ignore index {ignore_index}"
        )
    ignored = int(counts[ignore_index]) if ignore_index < counts.shape[0] else 0
    return DecodedMask(LabelMap.from_array(values), int(values.size) - ignored)
