"""Token buckets per caller, and the ASGI middleware that answers 429 past them.

A bucket holds up to ``burst`` tokens and refills at ``rate`` per second; a request takes one
or waits ``(1 - tokens) / rate`` seconds (its Retry-After). Buckets live in one LRU of at most
``max_keys`` callers: the one pushed out is the least recently seen, whose bucket has refilled
(or is closest to it), so forgetting it costs nothing but a fresh full bucket.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from sliceboard.metrics import Metrics
from sliceboard.principal import client_key, principal_of

#: Paths never limited: probes must keep answering however busy a client is.
EXEMPT_PATHS = frozenset({"/healthz"})


class TokenBuckets:
    def __init__(
        self,
        *,
        rate: float,
        burst: float,
        max_keys: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.max_keys = max_keys
        self._clock = clock
        # key -> [tokens, time of that count]
        self._buckets: OrderedDict[Hashable, list[float]] = OrderedDict()

    def take(self, key: Hashable) -> float:
        """Takes a token for ``key``: 0.0 when it had one, else the seconds until it will."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = [self.burst, now]
            self._buckets[key] = bucket
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket[0] = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
            bucket[1] = now
        if bucket[0] >= 1.0:
            bucket[0] -= 1.0
            return 0.0
        return (1.0 - bucket[0]) / self.rate

    def give_back(self, key: Hashable) -> None:
        """Returns the token of a request that turned out to do no work (refused input)."""
        bucket = self._buckets.get(key)
        if bucket is not None:
            bucket[0] = min(self.burst, bucket[0] + 1.0)

    def size(self) -> int:
        """Callers tracked (a method, not ``__len__``: a limiter must stay truthy when empty)."""
        return len(self._buckets)


def retry_after_header(seconds: float) -> str:
    """Retry-After in whole seconds, rounded up (never 0: the client must wait)."""
    return str(max(1, math.ceil(seconds)))


class RequestRateLimit:
    """Requests per second per key (per client address without one): HTTP requests and
    WebSocket handshakes past the bucket are refused before anything else runs. Inside the
    authentication middleware, so the key is known."""

    def __init__(
        self, app: ASGIApp, *, rate: float, burst: int, max_keys: int, metrics: Metrics
    ) -> None:
        self.app = app
        self.buckets = TokenBuckets(rate=rate, burst=burst, max_keys=max_keys) if rate > 0 else None
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.buckets is None
            or scope["type"] not in ("http", "websocket")
            or scope["path"] in EXEMPT_PATHS
        ):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        key = client_key(principal_of(scope), client[0] if client else None)
        wait = self.buckets.take(key)
        if wait == 0.0:
            await self.app(scope, receive, send)
            return
        self.metrics.rate_limited("requests")
        retry_after = retry_after_header(wait)
        if scope["type"] == "websocket":
            await receive()  # websocket.connect; closing before accepting answers 403
            await send({"type": "websocket.close", "code": 1013, "reason": "rate limited"})
            return
        body = orjson.dumps(
            {
                "errors": [
                    {
                        "message": f"Too many requests; retry in {retry_after} s.",
                        "extensions": {"code": "RATE_LIMITED", "retryAfterSeconds": wait},
                    }
                ]
            }
        )
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"retry-after", retry_after.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
