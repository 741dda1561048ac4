"""Payload unions into values or typed errors."""

from __future__ import annotations

from typing import Any

from sliceboard.client.errors import ConflictError, InvalidInputError, Issue, NotFoundError

JSON = dict[str, Any]


def unwrap(payload: JSON) -> JSON:
    """The success member of a payload union; its error members raise."""
    typename = payload.get("__typename")
    message = str(payload.get("errorMessage", ""))
    if typename == "InvalidInputError":
        issues = [Issue(i["path"], i["message"]) for i in payload.get("inputIssues") or []]
        raise InvalidInputError(message, issues)
    if typename == "NotFoundError":
        raise NotFoundError(message)
    if typename == "ConflictError":
        raise ConflictError(message)
    return payload
