"""Expected errors as payload types, and the ONE mapping from ``sliceboard.errors`` to them.

Mutations answer ``Success | InvalidInputError | NotFoundError | ConflictError`` (each union a
subset); top-level GraphQL errors are for limits and bugs (see ``schema/extensions.py``).
"""

from __future__ import annotations

from typing import Annotated

import strawberry

from sliceboard.errors import (
    Conflict,
    InvalidInput,
    Issue,
    LimitExceeded,
    NotFound,
    SliceboardError,
)


@strawberry.interface(description="An expected failure: something the caller can fix.")
class Error:
    message: str


@strawberry.type(description="One offending field, e.g. path `annotations[17].box.width`.")
class InputIssue:
    path: str
    message: str


@strawberry.type(description="The input was rejected whole: nothing was written.")
class InvalidInputError(Error):
    issues: list[InputIssue]


@strawberry.type
class NotFoundError(Error):
    pass


@strawberry.type(description="A unique name or key is already taken.")
class ConflictError(Error):
    pass


@strawberry.type(
    description="How many rows of an upsert were created, replaced, or kept as they were."
)
class UpsertResult:
    new: int
    updated: int
    ignored: int


@strawberry.type
class Deleted:
    id: strawberry.ID


@strawberry.type(
    description="Too many requests of this kind for this key: nothing was done; retry after "
    "`retryAfterSeconds`."
)
class RateLimitedError(Error):
    retry_after_seconds: float


ErrorPayload = InvalidInputError | NotFoundError | ConflictError

# Here, not in schema/payloads.py, so modules the object types import (custom metrics) can use it.
UpsertPayload = Annotated[
    UpsertResult | InvalidInputError | NotFoundError, strawberry.union("UpsertPayload")
]


def _issues(issues: list[Issue]) -> list[InputIssue]:
    return [InputIssue(path=issue.path, message=issue.message) for issue in issues]


def error_payload(exc: SliceboardError) -> ErrorPayload:
    """The payload type of an expected error (LimitExceeded is bad input: a batch too large)."""
    if isinstance(exc, InvalidInput):
        return InvalidInputError(message=exc.message, issues=_issues(exc.issues))
    if isinstance(exc, NotFound):
        return NotFoundError(message=exc.message)
    if isinstance(exc, Conflict):
        return ConflictError(message=exc.message)
    if isinstance(exc, LimitExceeded):
        return InvalidInputError(
            message=exc.message, issues=[InputIssue(path="", message=exc.message)]
        )
    return InvalidInputError(message=exc.message, issues=[])


def fit_union(payload: ErrorPayload, allowed: tuple[type[Error], ...]) -> Error:
    """Keep ``payload`` when its union has that member, else say it as an InvalidInputError.

    Every payload union except ``CancelJobPayload``/``DeletePayload`` (which only fail with
    NotFound) has InvalidInputError, so no expected error ever becomes a top-level error.
    """
    if isinstance(payload, allowed):
        return payload
    if isinstance(payload, InvalidInputError):
        return payload
    return InvalidInputError(message=payload.message, issues=[])
