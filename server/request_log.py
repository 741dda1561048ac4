"""ASGI middleware that logs each HTTP request when it ends: method, path, status, duration.

Outermost, so it also sees the answers of the middleware inside it (a 413 from the body
limit). A request that raises is logged as status 500 (499 when it was cancelled, as nginx
logs a request whose client went away) and the exception travels on. Health
checks that succeed are logged at DEBUG, so probes do not drown the log.
"""

from __future__ import annotations

import asyncio
import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("sliceboard.http")

QUIET_PATHS = frozenset({"/healthz"})


class RequestLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        except asyncio.CancelledError:
            status = 499
            raise
        except BaseException:
            status = 500
            raise
        finally:
            _log(scope, status, time.perf_counter() - started)


def _log(scope: Scope, status: int, seconds: float) -> None:
    method, path = scope.get("method", "?"), scope.get("path", "?")
    if status >= 500:
        level = logging.ERROR
    elif path in QUIET_PATHS and status < 400:
        level = logging.DEBUG
    else:
        level = logging.INFO
    duration_ms = round(seconds * 1000, 1)
    logger.log(
        level,
        "%s %s %s %.1f ms",
        method,
        path,
        status,
        duration_ms,
        extra={"method": method, "path": path, "status": status, "duration_ms": duration_ms},
    )
