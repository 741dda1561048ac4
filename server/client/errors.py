"""The client's exceptions: one class per answer a caller may want to handle differently.

Payload unions (``InvalidInputError``, ``NotFoundError``, ``ConflictError``) become the classes
of the same names; top-level GraphQL errors and HTTP failures get their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Issue:
    """One offending field, as the server names it (``items[17].box.width``)."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class SliceboardError(Exception):
    """Base of every error the client raises."""


class InvalidInputError(SliceboardError):
    """The server refused the input whole (nothing of that request was written)."""

    def __init__(self, message: str, issues: list[Issue] | None = None) -> None:
        self.issues = list(issues or [])
        shown = "; ".join(str(issue) for issue in self.issues[:5])
        more = f" (+{len(self.issues) - 5} more)" if len(self.issues) > 5 else ""
        super().__init__(f"{message}: {shown}{more}" if shown else message)
        self.message = message


class NotFoundError(SliceboardError):
    """An id or name that names nothing (or nothing the key may see)."""


class ConflictError(SliceboardError):
    """A unique name or key is already taken."""


class GraphQLError(SliceboardError):
    """Top-level ``errors`` of a GraphQL answer (a limit, a bad document, a server bug)."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = errors
        first = errors[0] if errors else {}
        self.code: str | None = (first.get("extensions") or {}).get("code")
        messages = "; ".join(str(error.get("message", error)) for error in errors[:3])
        super().__init__(f"{self.code}: {messages}" if self.code else messages)


class LimitExceededError(GraphQLError):
    """A server limit refused the request (query cost, body size, wall time)."""


class HTTPError(SliceboardError):
    """An HTTP answer that is neither a GraphQL answer nor retried away."""

    def __init__(self, status: int, text: str, url: str) -> None:
        self.status = status
        self.text = text
        self.url = url
        super().__init__(f"HTTP {status} from {url}: {text[:300]}")


class AuthenticationError(HTTPError):
    """401: no API key, or one the server does not know."""


class PermissionDeniedError(HTTPError):
    """403: the key may not do this."""


class RequestTooLargeError(HTTPError):
    """413: the body is over the server's limit (the batcher splits and retries)."""


class ServerUnavailableError(SliceboardError):
    """Connection errors, 5xx or 429 that outlasted every retry."""

    def __init__(self, message: str, attempts: int) -> None:
        self.attempts = attempts
        super().__init__(f"{message} (gave up after {attempts} attempts)")


class JobFailedError(SliceboardError):
    """A job ended FAILED or CANCELLED; ``issues`` holds its reasons (file imports name the
    line or JSON path)."""

    def __init__(self, job: Any) -> None:
        self.job = job
        reasons = list(getattr(job, "issues", []) or [])
        if not reasons and getattr(job, "error", None):
            reasons = [job.error]
        self.issues: list[str] = reasons
        shown = "; ".join(reasons[:5]) + (
            f" (+{len(reasons) - 5} more)" if len(reasons) > 5 else ""
        )
        super().__init__(
            f"job {job.id} ({job.kind}) ended {job.status}" + (f": {shown}" if shown else "")
        )


class UnsupportedByServerError(SliceboardError):
    """The server's schema lacks a field this call needs (an older server)."""
