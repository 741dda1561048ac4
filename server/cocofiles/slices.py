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
_RETRIES = 8


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
    while position < end:
        items, position = _next_slice(data, position, end, slice_bytes)
        yield items


def _next_slice(data: bytes, position: int, end: int, slice_bytes: int) -> tuple[list[Any], int]:
    """The elements from ``position`` on up to a cut, and where the next slice starts.

    A cut that does not parse was inside a string or a nested value: the slice grows
    to the next candidate, a few times, then to the end of the array.
    """
    search_from = position + slice_bytes
    for _ in range(_RETRIES):
        cut = _BETWEEN_OBJECTS.search(data, search_from, end) if search_from < end else None
        if cut is None:
            break
        try:
            return _parse(data, position, cut.start() + 1), cut.end() - 1
        except NotStreamable:
            search_from = cut.start() + 1
    return _parse(data, position, end), end


def _parse(data: bytes, start: int, stop: int) -> list[Any]:
    try:
        items: list[Any] = orjson.loads(b"[" + data[start:stop] + b"]")
    except orjson.JSONDecodeError:
        raise NotStreamable from None
    return items
