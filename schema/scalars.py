"""The contract's custom scalars: ``JSON`` (any JSON value) and ``DateTime`` (ISO 8601, UTC)."""

from __future__ import annotations

from datetime import UTC, datetime

from strawberry.scalars import JSON

__all__ = ["JSON", "json_value", "utc"]


def utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC, so say so in the output."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def json_value(value: object) -> JSON:
    """A stored JSON document as the JSON scalar (an identity: JSON is a NewType)."""
    return JSON(value)
