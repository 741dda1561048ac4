"""Parsing a big top-level JSON array slice by slice.

Parsing a 300 MB results file in one ``orjson.loads`` holds millions of dicts at
once (about six times the file's size) and runs at half the speed of parsing it
in slices of ~100 KB, whose objects stay in the CPU cache and whose memory is
reused by the next slice. A slice ends at a ``}`` followed by ``,`` and ``{``;
such a cut may fall inside a string or a nested array, but then the slice,
wrapped in brackets, is not valid JSON: since every slice starts where an
element starts, a slice parses if and only if its cut was between two elements.
Anything unexpected raises :class:`NotStreamable`; the caller then reads the
file the ordinary way, which also names any error.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import orjson

_BETWEEN_OBJECTS = re.compile(rb"\}\s*,\s*\{")
_WHITESPACE = b" \t\r\n"
SLICE_BYTES = 128 << 10


class NotStreamable(Exception):
    """The file is not a plain array of objects sliceable here; read it whole instead."""


def array_slices(data: bytes, slice_bytes: int = SLICE_BYTES) -> Iterator[list[Any]]:
    """The elements of ``data`` (a JSON array), as consecutive lists of about ``slice_bytes``.

    Raises:
        NotStreamable: ``data`` is not one JSON array, or is not valid JSON.
    """
    start = len(data) - len(data.lstrip(_WHITESPACE))
    end = len(data.rstrip(_WHITESPACE)) - 1
    if end <= start or data[start] != ord("[") or data[end] != ord("]"):
        raise NotStreamable
    position = start + 1
    while True:
        cut = (
            _BETWEEN_OBJECTS.search(data, position + slice_bytes, end)
            if position + slice_bytes < end
            else None
        )
        stop = cut.start() + 1 if cut is not None else end
        try:
            items = orjson.loads(b"[" + data[position:stop] + b"]")
        except orjson.JSONDecodeError:
            raise NotStreamable from None
        yield items
        if cut is None:
            return
        position = cut.end() - 1
