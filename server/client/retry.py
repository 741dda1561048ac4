"""When to try again: exponential backoff with jitter, and the server's ``Retry-After``.

Upserts are idempotent on the user's keys, so a batch whose answer was lost may be sent again;
creations are not, so they are retried only when the request cannot have been processed.
"""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass

#: Statuses that mean "try later": overload, a gateway in between, a request timeout, a limiter.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """``attempts`` in all (1 = no retry); the n-th delay is ``base * 2**n`` capped at ``cap``,
    half of it fixed and half random ("equal jitter": clients that failed together spread out,
    and every wait stays at least half the nominal one)."""

    attempts: int = 5
    base_seconds: float = 0.5
    cap_seconds: float = 30.0
    #: the longest ``Retry-After`` honoured; a longer one ends the retries
    max_retry_after_seconds: float = 300.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if self.base_seconds < 0 or self.cap_seconds < 0:
            raise ValueError("delays must not be negative")

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (0-based)."""
        nominal = min(self.cap_seconds, self.base_seconds * 2.0**retry)
        backoff = nominal / 2 + random.uniform(0, nominal / 2)
        if retry_after is not None:
            return max(retry_after, backoff)
        return backoff


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date; None when absent or unreadable."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)
