"""A request whose client went away, dropped unanswered by the deadline middleware, is logged
as 499 at INFO, not as an error 500: the Insights page aborts requests a slider made stale."""

from __future__ import annotations

import asyncio
import logging

import pytest
from starlette.types import Message, Receive, Scope, Send

from sliceboard.request_deadline import RequestDeadline
from sliceboard.request_log import RequestLog

SCOPE: Scope = {"type": "http", "method": "POST", "path": "/graphql", "headers": []}


async def slow_app(scope: Scope, receive: Receive, send: Send) -> None:
    await receive()  # the body
    await asyncio.Event().wait()  # works until cancelled


async def test_a_dropped_request_is_logged_499(caplog: pytest.LogCaptureFixture) -> None:
    messages: list[Message] = [{"type": "http.request", "body": b"{}", "more_body": False}]

    async def receive() -> Message:
        if messages:
            return messages.pop(0)
        await asyncio.sleep(0.01)
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        raise AssertionError(f"nothing is sent to a client that left: {message}")

    app = RequestLog(RequestDeadline(slow_app, seconds=5))
    with caplog.at_level(logging.INFO, logger="sliceboard.http"):
        await app(SCOPE, receive, send)
    (record,) = [r for r in caplog.records if r.name == "sliceboard.http"]
    assert record.levelno == logging.INFO
    assert record.__dict__["status"] == 499
