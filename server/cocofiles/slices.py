"""Parsing a big JSON array of objects slice by slice.

Parsing a 300 MB results file in one ``orjson.loads`` holds millions of dicts at
once (about six times the file's size) and runs at half the speed of parsing it
in slices of ~100 KB, whose objects stay in the CPU cache and whose memory is
reused by the next slice. A slice ends at a ``}`` followed by ``,{`` (more
elements) or by ``]`` (the array's end). Such a cut may fall inside a string or
a nested value, but then the slice, wrapped in brackets, is not valid JSON:
since every slice starts where an element starts, a slice parses if and only if
its cut was between two elements (or after the last). A slice that does not
parse grows to the next cut, a few times; a file that still does not slice
raises :class:`NotStreamable`, and the caller reads it the ordinary way, which
also names any error.
"""

from __future__ import annotations

import mmap
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

_BETWEEN = re.compile(rb"\}\s*,\s*\{")
_LAST = re.compile(rb"\}\s*\]")
_LEADING = re.compile(rb"[ \t\r\n]*")
_WHITESPACE = b" \t\r\n"
SLICE_BYTES = 128 << 10
_RETRIES = 8


class NotStreamable(Exception):
    """The file is not sliceable here; read it whole instead."""


def array_slices(
    data: bytes, slice_bytes: int | None = None, *, cut: Cut | None = None
) -> Iterator[list[Any]]:
    """The elements of ``data`` (a JSON array of objects), as consecutive lists.

    With ``cut`` (from :func:`middle_cut`), only the elements before it; the
    elements from it on are :func:`slices_after` ``cut``.

    Raises:
        NotStreamable: ``data`` is not one valid JSON array of objects, or
            ``cut`` is not between two of its elements.
    """
    start = _array_start(data)
    array = _Array(data, start, slice_bytes, None if cut is None else cut.close)
    yield from array
    if cut is None and data[array.close + 1 :].strip(_WHITESPACE):
        raise NotStreamable  # something after the array


#: the bytes in which an array's first element is looked for
_PEEK_BYTES = 1 << 20
#: candidate ends of the first element tried
_PEEK_CUTS = 64


def first_element(data: bytes) -> Any:
    """The first element of the array of ``data``, reading only the bytes up to its end.

    Every search stays within the first ``_PEEK_BYTES``: a slice's search for the array's
    closing ``}]`` would read (and keep resident) a whole mapped file.

    Raises:
        NotStreamable: an empty array, a first element longer than that, or ``data`` does
            not begin like an array of objects.
    """
    start = _array_start(data)
    window = min(len(data), start + _PEEK_BYTES)
    cuts = sorted(
        [m.start() for m in _BETWEEN.finditer(data, start, window)]
        + [m.start() for m in _LAST.finditer(data, start, window)]
    )
    for cut in cuts[:_PEEK_CUTS]:
        try:
            items = orjson.loads(data[start : cut + 1] + b"]")
        except orjson.JSONDecodeError:
            continue
        if type(items) is list and items:
            return items[0]
    raise NotStreamable


def _array_start(data: bytes) -> int:
    start = _LEADING.match(data).end()  # type: ignore[union-attr]  # always matches
    if data[start : start + 1] != b"[":
        raise NotStreamable
    return start


@dataclass(frozen=True)
class Cut:
    """A ``},{`` near the middle of a file's array: ``close`` is its ``}``, ``open`` its ``{``.

    It may lie inside a string; reading the elements before it tells (they then
    do not parse), so the elements after it are only valid once those have been read.
    """

    close: int
    open: int


def middle_cut(data: bytes, share: float = 0.5) -> Cut | None:
    """A candidate cut splitting the array of ``data`` after about ``share`` of its bytes
    (halves of about equal bytes by default)."""
    found = _BETWEEN.search(data, int(len(data) * share))
    if found is None:
        return None
    return Cut(found.start(), found.end() - 1)


def slices_after(data: bytes, cut: Cut, slice_bytes: int | None = None) -> Iterator[list[Any]]:
    """The elements from ``cut`` to the array's end (valid if ``cut`` is between elements).

    Raises:
        NotStreamable: the rest does not slice (e.g. the cut was inside a string).
    """
    array = _Array(data, cut.open - 1, slice_bytes)
    yield from array
    if data[array.close + 1 :].strip(_WHITESPACE):
        raise NotStreamable


class MemberSlices:
    """One array member of a top-level JSON object (``annotations``), slice by slice.

    Iterate for the array's elements; then :meth:`rest` parses the object without
    that member (images, categories, ...). The member is found by its key's text,
    which cannot occur inside a string (a quote there is escaped); :meth:`rest`
    verifies that it was a member of the top-level object.
    """

    def __init__(self, data: bytes, key: str, slice_bytes: int | None = None) -> None:
        found = re.search(b'"' + re.escape(key.encode()) + rb'"\s*:\s*\[', data)
        if found is None:
            raise NotStreamable
        self._data = data
        self._key = key
        self._key_start = found.start()
        self._array = _Array(data, found.end() - 1, slice_bytes)

    def __iter__(self) -> Iterator[list[Any]]:
        return iter(self._array)

    def rest(self) -> dict[str, Any]:
        """The top-level object without the member (call after iterating)."""
        marker = secrets.token_hex(16)
        text = (
            self._data[: self._key_start]
            + orjson.dumps({self._key: marker})[1:-1]
            + self._data[self._array.close + 1 :]
        )
        try:
            rest = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise NotStreamable from None
        if type(rest) is not dict or rest.get(self._key) != marker:
            raise NotStreamable  # the key was inside another value, or repeated
        del rest[self._key]
        return rest


def _release(data: bytes, start: int, stop: int) -> int:
    """Drops the pages of a mapped file (``data`` an mmap) read between ``start`` and
    ``stop`` from this process's memory (they are re-read from the page cache if
    touched again); returns where the next release starts."""
    if not isinstance(data, mmap.mmap):
        return start
    first = -(-start // mmap.PAGESIZE) * mmap.PAGESIZE
    last = stop // mmap.PAGESIZE * mmap.PAGESIZE
    if last - first < _RELEASE_BYTES:
        return start
    data.madvise(mmap.MADV_DONTNEED, first, last - first)
    return last


_RELEASE_BYTES = 4 << 20


class _Array:
    """Slices of the array whose ``[`` is at ``data[start]``; ``close`` is its ``]``."""

    def __init__(
        self, data: bytes, start: int, slice_bytes: int | None, stop: int | None = None
    ) -> None:
        self.data = data
        self.start = start
        self.slice_bytes = SLICE_BYTES if slice_bytes is None else slice_bytes
        self.close = -1
        self.stop = stop  # a forced cut: the ``}`` ending the last element read
        self._last: re.Match[bytes] | None = None

    def __iter__(self) -> Iterator[list[Any]]:
        data = self.data
        position = self.start + 1
        while data[position : position + 1] in (b" ", b"\t", b"\r", b"\n"):
            position += 1
        if data[position : position + 1] == b"]":
            self.close = position
            return
        released = position
        if self.stop is not None:
            while position <= self.stop:
                items, position = self._slice_before(position, self.stop)
                released = _release(data, released, position)
                yield items
            return
        while self.close < 0:
            items, position = self._next_slice(position)
            released = _release(data, released, position)
            yield items

    def _slice_before(self, position: int, stop: int) -> tuple[list[Any], int]:
        """``_next_slice`` for a part ending at the forced cut ``stop`` (its ``}``)."""
        data = self.data
        between_from = position + self.slice_bytes
        for _ in range(_RETRIES):
            between = _BETWEEN.search(data, between_from, stop) if between_from < stop else None
            end = between.start() if between is not None else stop
            try:
                items: list[Any] = orjson.loads(b"[" + data[position : end + 1] + b"]")
            except orjson.JSONDecodeError:
                if between is None:
                    raise NotStreamable from None  # the forced cut is not between elements
                between_from = between.start() + 1
                continue
            return items, (between.end() - 1 if between is not None else stop + 1)
        raise NotStreamable

    def _next_slice(self, position: int) -> tuple[list[Any], int]:
        """The elements from ``position`` to the first cut that parses; where the next start."""
        data = self.data
        between_from = position + self.slice_bytes
        last_from = position
        for _ in range(_RETRIES):
            last = self._last_candidate(last_from)
            if last is None:
                break
            between = _BETWEEN.search(data, between_from, last.start())
            cut = between if between is not None else last
            try:
                items: list[Any] = orjson.loads(b"[" + data[position : cut.start() + 1] + b"]")
            except orjson.JSONDecodeError:
                if between is not None:
                    between_from = between.start() + 1
                else:
                    last_from = last.start() + 1
                continue
            if between is None:
                self.close = last.end() - 1
            return items, cut.end() - 1
        raise NotStreamable

    def _last_candidate(self, start: int) -> re.Match[bytes] | None:
        """The first ``}]`` at or after ``start`` (searched again only once passed)."""
        if self._last is None or self._last.start() < start:
            self._last = _LAST.search(self.data, start)
        return self._last
