"""What a reader yields: rows of one kind, each with where it came from in the file."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Row = dict[str, Any]
Kind = Literal["items", "annotations", "predictions", "metrics"]
#: In the order a file's rows are written: items first, custom metrics (of items) last.
KINDS: tuple[Kind, ...] = ("items", "annotations", "predictions", "metrics")


@dataclass
class Chunk:
    """Rows for one upload service; ``where[i]`` names row i in the file (``line 12``,
    ``annotations[3]``) so an issue points at the file, not at the batch."""

    kind: Kind
    rows: list[Row] = field(default_factory=list)
    where: list[str] = field(default_factory=list)

    def add(self, row: Row, where: str) -> None:
        self.rows.append(row)
        self.where.append(where)

    def __len__(self) -> int:
        return len(self.rows)


class FileProblems:
    """Problems a reader finds itself (not JSON, unknown image id, ...), as ``where: message``."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{where}: {message}")

    def __len__(self) -> int:
        return len(self.items)
