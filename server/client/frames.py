"""pandas DataFrames from the client's rows, for users who have pandas (an optional extra:
``pip install 'sliceboard[pandas]'``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any


def pandas() -> Any:
    try:
        import pandas
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            "DataFrames need pandas: pip install 'sliceboard[pandas]' (or pandas)"
        ) from None
    return pandas


def to_frame(rows: Iterable[Any]) -> Any:
    """A DataFrame with one row per dataclass (or dict) and one column per field; nested
    values (geometry, metadata) stay Python objects in their cells."""
    records = [
        dataclasses.asdict(row)
        if dataclasses.is_dataclass(row) and not isinstance(row, type)
        else dict(row)
        for row in rows
    ]
    return pandas().DataFrame.from_records(records)
