"""The elements of a top-level JSON array, one at a time, from a file of any size.

``json``'s C ``raw_decode`` reads each element out of a sliding text buffer (1 MB blocks), so
memory holds one block and one element, not the document. An element cut by the end of a
block is decoded again once the next block has arrived; one cut by the end of the file is a
truncated file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BLOCK_CHARS = 1 << 20
_DECODER = json.JSONDecoder()
_SPACE = " \t\r\n"


class StreamError(ValueError):
    """Not a JSON array, or broken: the message says where (element index, character)."""


def array_elements(path: Path) -> Iterator[Any]:
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
