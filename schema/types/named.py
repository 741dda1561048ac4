"""What every catalog type (Dataset, Model, ModelRun, Slice) answers straight from its row."""

from __future__ import annotations

from typing import Any

import strawberry


@strawberry.type
class NamedRow:
    row: strawberry.Private[Any]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.row.id))

    @strawberry.field
    def name(self) -> str:
        return str(self.row.name)
