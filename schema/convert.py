"""Strawberry inputs -> the plain dicts services take (snake_case keys, unset fields as None).

Services validate; this only changes shape, so every rule lives in one place (the service).
"""

from __future__ import annotations

import dataclasses
from enum import Enum
from typing import Any

import strawberry


def given(value: object) -> bool:
    """Whether an optional argument or input field was given a value (not null, not unset)."""
    return value is not None and value is not strawberry.UNSET


def to_plain(value: Any) -> Any:
    """Recursively: input objects -> dicts, lists -> lists, enums -> their values, UNSET -> None.

    JSON scalars are already plain and pass through untouched.
    """
    if value is strawberry.UNSET:
        return None
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            field.name: to_plain(getattr(value, field.name)) for field in dataclasses.fields(value)
        }
    if isinstance(value, list):
        return [to_plain(element) for element in value]
    if isinstance(value, Enum):
        return value.value
    return value


def to_plain_list(values: list[Any]) -> list[dict[str, Any]]:
    return [to_plain(value) for value in values]
