"""Semantic label maps (index masks) as row-major run lengths, and their stored byte form.

A label map of H x W indices (uint8 or uint16) is kept as runs: ``values`` uint16 (R,) and
``ends`` int64 (R,), the exclusive end of each run in the flattened row-major image (so
``ends[-1] == H * W`` and consecutive values differ). Real masks have a few runs per row, so
this is tens of times smaller than the pixels, and two maps can be compared run by run
(``sliceboard.evaluation.pixel_confusion``) without ever expanding them.

The stored form (``to_bytes``) is a small header and the runs, zlib-compressed; its digest is
taken over the uncompressed runs, so the same pixels always give the same digest however the
PNG that carried them was encoded.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

MAGIC = b"SBLM"
VERSION = 1
_HEADER = struct.Struct("<4sBIII")  # magic, version, height, width, runs


class LabelMapError(ValueError):
    """Bytes that are not a stored label map."""


@dataclass(frozen=True, eq=False)
class LabelMap:
    height: int
    width: int
    values: NDArray[np.uint16]  # (R,)
    ends: NDArray[np.int64]  # (R,) exclusive run ends, ascending, last = height * width

    @property
    def pixels(self) -> int:
        return self.height * self.width

    @property
    def runs(self) -> int:
        return int(self.values.shape[0])

    @classmethod
    def from_array(cls, array: NDArray[np.integer]) -> LabelMap:
        """Runs of a 2-D array of indices in 0..65535 (any integer dtype)."""
        if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
            raise ValueError("a label map is a non-empty 2-D array")
        flat = np.ascontiguousarray(array).reshape(-1)
        change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
        ends = np.empty(change.shape[0] + 1, dtype=np.int64)
        ends[:-1] = change
        ends[-1] = flat.shape[0]
        starts = ends - np.diff(ends, prepend=0)
        return cls(
            height=int(array.shape[0]),
            width=int(array.shape[1]),
            values=flat[starts].astype(np.uint16),
            ends=ends,
        )

    def to_array(self) -> NDArray[np.uint16]:
        lengths = np.diff(self.ends, prepend=0)
        return np.repeat(self.values, lengths).reshape(self.height, self.width)

    def counts(self) -> dict[int, int]:
        """Pixels per index present."""
        lengths = np.diff(self.ends, prepend=0)
        present, inverse = np.unique(self.values, return_inverse=True)
        totals = np.bincount(inverse, weights=lengths, minlength=present.shape[0])
        return {int(v): int(n) for v, n in zip(present.tolist(), totals.tolist(), strict=True)}

    def _payload(self) -> bytes:
        lengths = np.diff(self.ends, prepend=0).astype("<u4")
        header = _HEADER.pack(MAGIC, VERSION, self.height, self.width, self.runs)
        return header + self.values.astype("<u2").tobytes() + lengths.tobytes()

    def digest(self) -> str:
        """sha256 of the runs: equal for equal pixels, whatever file they came from."""
        return hashlib.sha256(self._payload()).hexdigest()

    def to_bytes(self) -> bytes:
        return zlib.compress(self._payload(), 6)

    @classmethod
    def from_bytes(cls, blob: bytes) -> LabelMap:
        try:
            payload = zlib.decompress(blob)
        except zlib.error as error:
            raise LabelMapError(f"not a stored label map: {error}") from None
        if len(payload) < _HEADER.size:
            raise LabelMapError("not a stored label map: too short")
        magic, version, height, width, runs = _HEADER.unpack_from(payload)
        if magic != MAGIC or version != VERSION:
            raise LabelMapError("not a stored label map: unknown header")
        if len(payload) != _HEADER.size + 6 * runs or runs == 0:
            raise LabelMapError("not a stored label map: wrong length")
        at = _HEADER.size
        values = np.frombuffer(payload, dtype="<u2", count=runs, offset=at).astype(np.uint16)
        lengths = np.frombuffer(payload, dtype="<u4", count=runs, offset=at + 2 * runs)
        ends = np.cumsum(lengths, dtype=np.int64)
        if int(ends[-1]) != height * width or bool((lengths == 0).any()):
            raise LabelMapError("not a stored label map: runs do not cover the image")
        return cls(height=height, width=width, values=values, ends=ends)
