"""A response that listens for a disconnect and stops listening when it is done (Starlette's
streaming responses, strawberry's) leaves no helper task of the deadline pending: such a task
was garbage-collected pending and asyncio logged "Task was destroyed but it is pending!" after
requests the Insights page aborted or finished."""

from __future__ import annotations

import asyncio
import gc

from starlette.types import Message, Receive, Scope, Send

from sliceboard.request_deadline import RequestDeadline

SCOPE: Scope = {"type": "http", "method": "GET", "path": "/", "headers": []}


async def listening_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers while a task listens for a disconnect, then cancels the listener."""
    listener = asyncio.ensure_future(receive())
    await asyncio.sleep(0.01)  # the listener is inside receive(), waiting
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})
    listener.cancel()
    await asyncio.gather(listener, return_exceptions=True)


async def test_a_cancelled_listener_leaves_no_pending_task() -> None:
    loop = asyncio.get_running_loop()
    reported: list[str] = []
    loop.set_exception_handler(lambda _loop, context: reported.append(context["message"]))
    sent: list[Message] = []
    never = asyncio.Event()

    async def receive() -> Message:
        await never.wait()  # the client stays: no message
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    for _ in range(5):
        await RequestDeadline(listening_app, seconds=5)(SCOPE, receive, send)
    for _ in range(3):  # let cancellations run, then collect what is unreferenced
        await asyncio.sleep(0)
    gc.collect()
    await asyncio.sleep(0)
    assert [m["status"] for m in sent if m["type"] == "http.response.start"] == [200] * 5
    assert reported == []
