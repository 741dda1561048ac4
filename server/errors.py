"""Errors a user can cause, each mapped to one GraphQL payload type by the schema layer.

    SliceboardError            base; never raised itself
     ├── InvalidInput          bad field values; carries every (path, message) issue
     ├── NotFound              an id or key that names nothing
     ├── Conflict              a unique name or key already taken
     ├── LimitExceeded         a batch or request above a configured limit
     └── FailedPrecondition    asks for something a step must come first for (metrics before
                               any evaluation)

Anything else that escapes a resolver is a bug: the schema masks it as INTERNAL.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Issue:
    """One offending field: ``path`` like ``annotations[17].box.width``."""

    path: str
    message: str


class SliceboardError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(SliceboardError):
    def __init__(self, issues: list[Issue], message: str | None = None) -> None:
        self.issues = list(issues)
        if message is None:
            first = self.issues[0] if self.issues else None
            message = (
                f"{len(self.issues)} invalid field(s); first: {first.path}: {first.message}"
                if first
                else "invalid input"
            )
        super().__init__(message)


class NotFound(SliceboardError):
    def __init__(self, entity: str, key: object, path: str | None = None) -> None:
        self.entity = entity
        self.key = key
        self.path = path
        where = f" ({path})" if path else ""
        super().__init__(f"{entity} {key!r} not found{where}")


class Conflict(SliceboardError):
    pass


class LimitExceeded(SliceboardError):
    pass


class FailedPrecondition(SliceboardError):
    pass
