"""A wall-time budget per HTTP request, and cancellation when its client has gone.

The app runs in a task of its own while this middleware reads the connection: a client that
disconnects gets its request cancelled at once, and a request still running after
``Settings.request_timeout_seconds`` is cancelled and answered 503 with a GraphQL-shaped body
(``extensions.code = LIMIT_EXCEEDED``). Cancelling the task drops every reference it held, so
the rows and objects it built are freed; uvicorn's own cancellation at the end of a graceful
shutdown reaches the request the same way.

Messages from the client pass through a one-slot queue, so a body is never read ahead of the
app (the body-size limit still sees it chunk by chunk) and a disconnect is seen even while the
app is busy.
"""

from __future__ import annotations

import asyncio
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send


def timeout_body(seconds: float) -> bytes:
    message = (
        f"The request ran past its time budget of {seconds:g} s and was cancelled "
        "(SLICEBOARD_REQUEST_TIMEOUT_SECONDS). Ask for less at once: smaller pages, fewer fields."
    )
    error = {
        "message": message,
        "extensions": {"code": "LIMIT_EXCEEDED", "timeoutSeconds": seconds},
    }
    return json.dumps({"data": None, "errors": [error]}).encode()


class RequestDeadline:
    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        inbox: asyncio.Queue[Message] = asyncio.Queue(maxsize=1)
        gone = asyncio.Event()
        started = False

        async def pump() -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    gone.set()
                    return
                await inbox.put(message)

        async def app_receive() -> Message:
            if gone.is_set() and inbox.empty():
                return {"type": "http.disconnect"}
            getting = asyncio.ensure_future(inbox.get())
            leaving = asyncio.ensure_future(gone.wait())
            try:
                await asyncio.wait({getting, leaving}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                # also when the caller is cancelled mid-wait (a response done listening for a
                # disconnect): a helper left pending was destroyed pending, logged as an error
                leaving.cancel()
                if not getting.done():
                    getting.cancel()
            if getting.done() and not getting.cancelled():
                return getting.result()
            return {"type": "http.disconnect"}

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        reader = asyncio.ensure_future(pump())
        work = asyncio.ensure_future(self.app(scope, app_receive, tracking_send))
        leaving = asyncio.ensure_future(gone.wait())
        try:
            await asyncio.wait(
                {work, leaving}, timeout=self.seconds, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for task in (work, reader, leaving):
                task.cancel()
            # Let the app unwind (close its sessions) before anything else is answered.
            await asyncio.gather(work, reader, leaving, return_exceptions=True)
        if not work.cancelled():
            work.result()  # the app's own outcome: an exception propagates as it would
        elif not gone.is_set() and not started:
            await self._timed_out(send)

    async def _timed_out(self, send: Send) -> None:
        body = timeout_body(self.seconds)
        await send(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
