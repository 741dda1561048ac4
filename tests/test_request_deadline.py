"""A request past its time budget, or whose client has gone, is cancelled (issue 11 §1)."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from starlette.types import Message, Receive, Scope, Send

from sliceboard.request_deadline import RequestDeadline

SCOPE: Scope = {"type": "http", "method": "POST", "path": "/graphql", "headers": []}


class Forever:
    """An app that reads its body, then works until cancelled."""

    def __init__(self) -> None:
        self.body = b""
        self.cancelled = asyncio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            self.body += message.get("body", b"")
            if not message.get("more_body"):
                break
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled.set()
            raise


def client(messages: list[Message], then_leave_after: float | None = None) -> Receive:
    queue = list(messages)

    async def receive() -> Message:
        if queue:
            return queue.pop(0)
        if then_leave_after is None:
            await asyncio.Event().wait()
        await asyncio.sleep(then_leave_after or 0)
        return {"type": "http.disconnect"}

    return receive


def recorder() -> tuple[list[Message], Send]:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    return sent, send


BODY: list[Message] = [
    {"type": "http.request", "body": b'{"query":', "more_body": True},
    {"type": "http.request", "body": b'"{ x }"}', "more_body": False},
]


async def test_a_request_past_its_budget_is_cancelled_and_answered() -> None:
    app = Forever()
    sent, send = recorder()
    started = time.monotonic()
    await RequestDeadline(app, seconds=0.3)(SCOPE, client(BODY), send)
    assert 0.3 <= time.monotonic() - started < 2
    assert app.cancelled.is_set()
    assert app.body == b'{"query":"{ x }"}'
    assert sent[0]["status"] == 503
    body = json.loads(sent[1]["body"])
    assert body["errors"][0]["extensions"] == {"code": "LIMIT_EXCEEDED", "timeoutSeconds": 0.3}


async def test_a_request_whose_client_left_is_cancelled_at_once() -> None:
    app = Forever()
    sent, send = recorder()
    started = time.monotonic()
    await RequestDeadline(app, seconds=30)(SCOPE, client(BODY, then_leave_after=0.1), send)
    assert time.monotonic() - started < 2
    assert app.cancelled.is_set()
    assert sent == []


async def test_a_quick_request_passes_through() -> None:
    async def echo(scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": message["body"]})

    sent, send = recorder()
    one: list[Message] = [{"type": "http.request", "body": b"hello", "more_body": False}]
    await RequestDeadline(echo, seconds=5)(SCOPE, client(one), send)
    assert [m.get("status") for m in sent] == [200, None]
    assert sent[1]["body"] == b"hello"


async def test_an_app_error_propagates() -> None:
    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("boom")

    _, send = recorder()
    with pytest.raises(RuntimeError, match="boom"):
        await RequestDeadline(broken, seconds=5)(SCOPE, client([]), send)


async def test_the_server_cancelling_the_request_cancels_the_app() -> None:
    app = Forever()
    _, send = recorder()
    request = asyncio.ensure_future(RequestDeadline(app, seconds=30)(SCOPE, client(BODY), send))
    for _ in range(100):  # bounded poll until the app is working
        if app.body:
            break
        await asyncio.sleep(0.01)
    request.cancel()
    results = await asyncio.gather(request, return_exceptions=True)
    assert isinstance(results[0], asyncio.CancelledError)
    assert app.cancelled.is_set()
