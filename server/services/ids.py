"""GraphQL IDs are the decimal row ids; anything else names nothing."""

from __future__ import annotations

from sliceboard.errors import NotFound

MAX_ID = 2**63 - 1


def parse_id(raw: object) -> int | None:
    """The row id in ``raw``, or None when it cannot name a row (queries answer null then)."""
    text = str(raw).strip()
    if not text.isascii() or not text.isdigit():
        return None
    value = int(text)
    return value if 0 < value <= MAX_ID else None


def require_id(raw: object, entity: str, path: str | None = None) -> int:
    """The row id in ``raw``; a malformed one is a NotFound (it cannot exist), named by ``path``."""
    value = parse_id(raw)
    if value is None:
        raise NotFound(entity, raw, path)
    return value
