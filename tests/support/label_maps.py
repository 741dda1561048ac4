"""Generated semantic label maps: blocky regions (a few runs per row, like real masks) with
optional per-pixel noise, and the PNG bytes that carry them."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def blocky_map(
    rng: np.random.Generator, height: int, width: int, values: list[int], cell: int = 8
) -> np.ndarray:
    """A map of ``values`` in rectangles about ``cell`` pixels wide, cut to height x width."""
    rows, cols = -(-height // cell), -(-width // cell)
    coarse = rng.choice(np.asarray(values), size=(rows, cols))
    return np.kron(coarse, np.ones((cell, cell), dtype=coarse.dtype))[:height, :width]


def perturbed(
    rng: np.random.Generator, gt: np.ndarray, values: list[int], flip: float
) -> np.ndarray:
    """``gt`` with a share ``flip`` of its pixels set to random ``values``."""
    out = gt.copy()
    hit = rng.random(gt.shape) < flip
    out[hit] = rng.choice(np.asarray(values), size=int(hit.sum()))
    return out


def png_bytes(array: np.ndarray, mode: str | None = None) -> bytes:
    """The PNG of a 2-D index array: 8-bit when it fits (mode L), else 16-bit (I;16)."""
    if mode is None:
        mode = "L" if array.max(initial=0) < 256 else "I;16"
    dtype = np.uint8 if mode == "L" else np.uint16
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array.astype(dtype))).save(buffer, "PNG")
    return buffer.getvalue()
