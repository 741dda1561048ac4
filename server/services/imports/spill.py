"""The validated rows of a first pass, kept on disk between the two passes of a SQLite import
(one pickle per chunk: this process wrote the file and reads it back, nobody else)."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from sliceboard.services.imports.chunks import Chunk


def spill_path(upload: Path) -> Path:
    return upload.with_suffix(".validated")


def write_chunk(file: BinaryIO, chunk: Chunk) -> None:
    pickle.dump((chunk.kind, chunk.rows, chunk.where), file, protocol=pickle.HIGHEST_PROTOCOL)


def read_chunks(path: Path) -> Iterator[Chunk]:
    with path.open("rb") as file:
        while True:
            try:
                kind, rows, where = pickle.load(file)
            except EOFError:
                return
            yield Chunk(kind, rows, where)
