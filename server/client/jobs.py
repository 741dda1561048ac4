"""Following a job to its end: the ``job`` subscription (graphql-transport-ws), or polling when
the subscription cannot be used (no websockets package, a proxy that drops WebSockets, the
connection lost mid-way)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from sliceboard.client import documents
from sliceboard.client.errors import JobFailedError
from sliceboard.client.models import Job
from sliceboard.client.payloads import unwrap
from sliceboard.client.progress import Bar
from sliceboard.client.transport import Transport, top_level_error


class SubscriptionUnavailable(Exception):
    """The server did not accept a graphql-transport-ws connection."""


class JobFollower:
    """How the jobs of one client are read: the selection, the transport, the subscription."""

    def __init__(
        self, transport: Transport, job_fields: str, *, subscribe: bool, poll_seconds: float
    ) -> None:
        self.transport = transport
        self.job_fields = job_fields
        self.subscribe = subscribe
        self.poll_seconds = poll_seconds

    async def read(self, job_id: str) -> Job | None:
        data = await self.transport.execute(documents.job_query(self.job_fields), {"id": job_id})
        raw = data["job"]
        return Job.of(raw) if raw is not None else None

    async def cancel(self, job_id: str) -> Job:
        data = await self.transport.execute(documents.cancel_job(self.job_fields), {"id": job_id})
        return Job.of(unwrap(data["cancelJob"]))

    async def subscription(self, job_id: str) -> AsyncIterator[Job]:
        """The job now, then each change, until the server completes the stream."""
        try:
            from websockets import Subprotocol
            from websockets.asyncio.client import connect
        except ImportError as exc:  # pragma: no cover - websockets ships with uvicorn[standard]
            raise SubscriptionUnavailable(str(exc)) from exc
        url = self.transport.graphql_url.replace("http://", "ws://", 1).replace(
            "https://", "wss://", 1
        )
        key = self.transport.api_key
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        async with connect(
            url,
            subprotocols=[Subprotocol("graphql-transport-ws")],
            additional_headers=headers,
            open_timeout=10,
            max_size=None,
        ) as ws:
            init: dict[str, Any] = {"type": "connection_init"}
            if key:
                init["payload"] = {"authorization": f"Bearer {key}"}
            await ws.send(json.dumps(init))
            ack = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
            if ack.get("type") != "connection_ack":
                raise SubscriptionUnavailable(f"no connection_ack: {ack}")
            payload = {
                "query": documents.job_subscription(self.job_fields),
                "variables": {"id": job_id},
            }
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
            async for text in ws:
                message = json.loads(text)
                kind = message.get("type")
                if kind == "ping":
                    await ws.send(json.dumps({"type": "pong"}))
                elif kind == "next":
                    body = message.get("payload") or {}
                    if body.get("errors"):
                        raise top_level_error(body["errors"])
                    yield Job.of(body["data"]["job"])
                elif kind == "error":
                    raise top_level_error(
                        message.get("payload") or [{"message": "subscription error"}]
                    )
                elif kind == "complete":
                    return


class AsyncJobHandle:
    """A job the client started: ``await handle.wait()`` returns it finished (or raises
    :class:`JobFailedError`); ``handle.job`` is the last state seen."""

    def __init__(self, follower: JobFollower, job: Job) -> None:
        self.follower = follower
        self.job = job

    @property
    def id(self) -> str:
        return self.job.id

    @property
    def result(self) -> Any:
        """The job's result (import counts, export download) once it has succeeded."""
        return self.job.result

    async def refresh(self) -> Job:
        latest = await self.follower.read(self.job.id)
        if latest is not None:
            self.job = latest
        return self.job

    async def cancel(self) -> Job:
        self.job = await self.follower.cancel(self.job.id)
        return self.job

    async def wait(
        self,
        timeout: float | None = None,
        *,
        progress: bool | None = None,
        raise_on_failure: bool = True,
    ) -> Job:
        """The job once it has ended; a bar on a terminal meanwhile. ``TimeoutError`` after
        ``timeout`` seconds (the job goes on: wait again or cancel it)."""
        with Bar(f"{self.job.kind.lower()} {self.job.id}", progress=progress) as bar:
            async with asyncio.timeout(timeout):
                await self._follow(bar)
        if raise_on_failure and self.job.status != "SUCCEEDED":
            raise JobFailedError(self.job)
        return self.job

    def _show(self, bar: Bar, job: Job) -> None:
        self.job = job
        if job.rows_total:
            bar.set_total(job.rows_total)
            bar.move_to(job.rows_done or 0, job.message)
        else:
            bar.set_total(100)
            bar.move_to(round(job.progress * 100, 1), job.message)

    async def _follow(self, bar: Bar) -> None:
        if self.job.done:
            self._show(bar, self.job)
            return
        if self.follower.subscribe:
            try:
                async for job in self.follower.subscription(self.job.id):
                    self._show(bar, job)
                    if job.done:
                        return
            except (TimeoutError, OSError, SubscriptionUnavailable) as exc:
                del exc  # the stream is gone: polling finishes the wait
            except Exception as exc:
                if not _is_websocket_error(exc):
                    raise
        delay = self.follower.poll_seconds
        while True:
            latest = await self.follower.read(self.job.id)
            if latest is None:
                raise JobFailedError(
                    Job(
                        self.job.id,
                        self.job.kind,
                        "CANCELLED",
                        self.job.progress,
                        error="the job was deleted (its dataset or run was deleted)",
                    )
                )
            self._show(bar, latest)
            if latest.done:
                return
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, max(2.0, self.follower.poll_seconds))


def _is_websocket_error(exc: Exception) -> bool:
    try:
        from websockets.exceptions import WebSocketException
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc, WebSocketException)
