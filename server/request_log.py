"""ASGI middleware that logs each HTTP request when it ends: method, path, status, duration.

Outermost, so it also sees the answers of the middleware inside it (a 413 from the body
limit). A request that raises is logged as status 500 (499 when it was cancelled, as nginx
logs a request whose client went away, also when the deadline inside dropped it
unanswered) and the exception travels on. Health checks that succeed are logged at DEBUG, so
probes do not drown the log.
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
        answered = left = False

        async def send_status(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                status = int(message["status"])
                answered = True
            await send(message)

        async def noting_receive() -> Message:
            nonlocal left
            message = await receive()
            left = left or message["type"] == "http.disconnect"
            return message

        try:
            await self.app(scope, noting_receive, send_status)
            if left and not answered:
                status = 499  # the client went away and its request was dropped unanswered
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
