"""The validated rows of a first pass, kept on disk between the two passes of a SQLite import:
one orjson line per chunk (validated rows hold only JSON values, and orjson writes and reads
them several times faster than pickle)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import orjson

from sliceboard.services.imports.chunks import Chunk


def spill_path(upload: Path) -> Path:
    return upload.with_suffix(".validated")


def write_chunk(file: BinaryIO, chunk: Chunk) -> None:
    file.write(orjson.dumps([chunk.kind, chunk.rows, chunk.where]) + b"\n")


def read_chunks(path: Path) -> Iterator[Chunk]:
    with path.open("rb") as file:
        for line in file:
            kind, rows, where = orjson.loads(line)
            yield Chunk(kind, rows, where)
