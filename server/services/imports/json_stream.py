"""The elements of a top-level JSON array, a few MB at a time, from a file of any size.

Fast path: a block of the file is cut after its last ``}, {`` (where one object of the list
ends and the next begins) and the part before the cut is parsed by orjson as one list; the
rest waits for the next block. A cut that falls inside a value (a string holding ``},{``, a
list of objects inside an element) makes orjson refuse the part; then, as for anything
orjson refuses (NaN, integers past 64 bits, broken JSON), the file is read again from the
first element not yet given, exactly, by ``json``'s C ``raw_decode`` over a sliding text
buffer, which also names where a broken or truncated file breaks. Memory holds a block and
its elements, not the document.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

BLOCK_CHARS = 1 << 20
_DECODER = json.JSONDecoder()
_SPACE = " \t\r\n"


class StreamError(ValueError):
    """Not a JSON array, or broken: the message says where (element index, character)."""


FAST_BLOCK_BYTES = 4 << 20
_BETWEEN = re.compile(rb"\}\s*,\s*\{")
_TAIL = 1 << 16


def array_elements(path: Path) -> Iterator[Any]:
    """Each element of the file's top-level list, in order (StreamError: not such a file)."""
    given = 0
    try:
        for value in _fast_elements(path):
            given += 1
            yield value
        return
    except _Refused:
        pass
    for index, value in enumerate(_exact_elements(path)):
        if index >= given:
            yield value


class _Refused(Exception):
    pass


def _last_cut(data: bytes) -> re.Match[bytes] | None:
    """The last ``}, {`` of ``data`` (searched in its tail first)."""
    start = max(0, len(data) - _TAIL)
    while True:
        matches = list(_BETWEEN.finditer(data, start))
        last = matches[-1] if matches else None
        if last is not None or start == 0:
            return last
        start = max(0, start - 8 * _TAIL)


def _fast_elements(path: Path) -> Iterator[Any]:
    with path.open("rb") as file:
        head = file.read(FAST_BLOCK_BYTES).lstrip()
        if not head.startswith(b"["):
            raise _Refused
        carry = head[1:]
        while True:
            block = file.read(FAST_BLOCK_BYTES)
            data = carry + block
            if not block:
                try:
                    values = orjson.loads(b"[" + data)
                except orjson.JSONDecodeError:
                    raise _Refused from None
                if not isinstance(values, list):
                    raise _Refused
                yield from values
                return
            cut = _last_cut(data)
            if cut is None:
                carry = data
                continue
            try:
                values = orjson.loads(b"[" + data[: cut.start() + 1] + b"]")
            except orjson.JSONDecodeError:
                raise _Refused from None
            yield from values
            carry = data[cut.end() - 1 :]


def _exact_elements(path: Path) -> Iterator[Any]:
    with path.open("r", encoding="utf-8", errors="strict") as file:
        buffer = ""
        offset = 0  # characters dropped before buffer[0]
        at = 0
        ended = False

        def more() -> bool:
            nonlocal buffer, offset, at, ended
            block = file.read(BLOCK_CHARS)
            if not block:
                ended = True
                return False
            offset += at
            buffer = buffer[at:] + block
            at = 0
            return True

        def skip_space() -> None:
            nonlocal at
            while True:
                while at < len(buffer) and buffer[at] in _SPACE:
                    at += 1
                if at < len(buffer) or not more():
                    return

        try:
            skip_space()
            if at >= len(buffer) or buffer[at] != "[":
                raise StreamError("the file must be a JSON list")
            at += 1
            index = 0
            skip_space()
            if at < len(buffer) and buffer[at] == "]":
                return
            while True:
                skip_space()
                while True:
                    try:
                        value, end = _DECODER.raw_decode(buffer, at)
                        break
                    except json.JSONDecodeError as exc:
                        if not ended and more():
                            continue
                        where = offset + exc.pos
                        raise StreamError(
                            f"[{index}]: not valid JSON at character {where} ({exc.msg})"
                            + (" - truncated file?" if exc.pos >= len(buffer) - 1 else "")
                        ) from None
                at = end
                yield value
                index += 1
                skip_space()
                if at >= len(buffer):
                    raise StreamError(f"[{index}]: the file ends inside the list - truncated file?")
                if buffer[at] == "]":
                    at += 1
                    skip_space()
                    if at < len(buffer):
                        raise StreamError(f"character {offset + at}: data after the list")
                    return
                if buffer[at] != ",":
                    raise StreamError(f"[{index}]: expected ',' or ']' at character {offset + at}")
                at += 1
        except UnicodeDecodeError as exc:
            raise StreamError(f"not UTF-8 text ({exc.reason})") from None


def count_key(path: Path, key: bytes) -> int:
    """Occurrences of ``key`` in the file, read in 1 MB blocks (an estimate of its objects)."""
    count = 0
    tail = b""
    with path.open("rb") as file:
        while block := file.read(1 << 20):
            data = tail + block
            count += data.count(key)
            tail = data[-(len(key) - 1) :] if len(key) > 1 else b""
            count -= tail.count(key)  # counted again with the next block
    return count + tail.count(key)
