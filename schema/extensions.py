"""Top-level GraphQL errors: every one carries ``extensions.code``; bugs leak nothing.

    BAD_USER_INPUT             malformed arguments or variables (a bad cursor, a negative ``first``)
    INVALID_INPUT              a query argument failed validation (``extensions.issues``)
    NOT_FOUND                  a query argument names nothing (e.g. an unknown ``sliceId``)
    BAD_REQUEST                the HTTP body is not a readable GraphQL request (schema/http.py)
    LIMIT_EXCEEDED             depth, aliases, page size, query cost and nodes, request time
    FAILED_PRECONDITION        asks for what a step must come first for (metrics before any
                               evaluation completed)
    GRAPHQL_VALIDATION_FAILED  the document does not fit the schema
    INTERNAL                   anything else: a bug; message masked, no stack trace or SQL

Expected failures of mutations are not here: they are payload union members (schema/errors.py).
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError
from strawberry.extensions import MaskErrors

from sliceboard.errors import FailedPrecondition, InvalidInput, LimitExceeded, NotFound

INTERNAL_MESSAGE = "Internal server error."
LIMIT_RULES = ("exceeds maximum operation depth", "aliases found")


class PublicError(Exception):
    """Raised by a resolver to answer a top-level error with a safe message and a code."""

    def __init__(self, message: str, *, code: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extensions: dict[str, Any] = {"code": code, **details}


def _public(original: BaseException) -> PublicError | None:
    if isinstance(original, PublicError):
        return original
    if isinstance(original, InvalidInput):
        issues = [{"path": issue.path, "message": issue.message} for issue in original.issues]
        return PublicError(original.message, code="INVALID_INPUT", issues=issues)
    if isinstance(original, NotFound):
        return PublicError(original.message, code="NOT_FOUND")
    if isinstance(original, LimitExceeded):
        return PublicError(original.message, code="LIMIT_EXCEEDED")
    if isinstance(original, FailedPrecondition):
        return PublicError(original.message, code="FAILED_PRECONDITION")
    return None


def classify(
    error: GraphQLError, masked_message: str = INTERNAL_MESSAGE
) -> tuple[str, dict[str, Any]]:
    """The (message, extensions) a client sees for ``error``; code INTERNAL marks a bug."""
    original = error.original_error
    if original is None and error.path is None:
        # Raised by graphql-core before execution: parsing, validation, the limiter rules.
        code = (
            "LIMIT_EXCEEDED"
            if any(rule in error.message for rule in LIMIT_RULES)
            else "GRAPHQL_VALIDATION_FAILED"
        )
        return error.message, {**(error.extensions or {}), "code": code}
    if isinstance(original, GraphQLError) and error.path is None:
        # Variable values that do not fit their declared types.
        return error.message, {"code": "BAD_USER_INPUT"}
    public = _public(original) if original is not None else None
    if public is not None:
        return public.message, public.extensions
    return masked_message, {"code": "INTERNAL"}


def is_bug(error: GraphQLError) -> bool:
    return bool(classify(error)[1]["code"] == "INTERNAL")


class ErrorCodes(MaskErrors):
    """MaskErrors that keeps expected errors (with their code) and masks the rest as INTERNAL."""

    def __init__(self) -> None:
        super().__init__(error_message=INTERNAL_MESSAGE)

    # MaskErrors' hook for every result (single, streamed, subscription); we rewrite each error.
    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        return [self._with_code(error) for error in errors]

    def _with_code(self, error: GraphQLError) -> GraphQLError:
        message, extensions = classify(error, self.error_message)
        return GraphQLError(
            message=message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=None,
            extensions=extensions,
        )
