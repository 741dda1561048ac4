"""OpenTelemetry traces (the ``otel`` extra): a request through the real app leaves a server
span and the SQL it ran, caught by the SDK's in-memory exporter; off by default."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from sliceboard.app import create_app
from sliceboard.config import Settings

pytest.importorskip("opentelemetry.instrumentation.starlette")
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.trace import SpanKind


async def _ask(settings: Settings, exporter: InMemorySpanExporter) -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = create_app(settings, migrate=False, tracer_provider=provider)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://localhost"
        ) as client,
    ):
        response = await client.post("/graphql", json={"query": "{ datasets { totalCount } }"})
        assert response.json() == {"data": {"datasets": {"totalCount": 0}}}


async def test_a_request_and_its_sql_are_traced(database_url: str) -> None:
    exporter = InMemorySpanExporter()
    await _ask(Settings(database_url=database_url, run_jobs=False, otel=True), exporter)
    spans = exporter.get_finished_spans()
    servers = [s for s in spans if s.kind is SpanKind.SERVER]
    assert len(servers) == 1 and "/graphql" in servers[0].name
    server = servers[0]
    statements = {s: str((s.attributes or {}).get("db.statement", "")) for s in spans}
    counts = [s for s, text in statements.items() if "count" in text.lower() and "dataset" in text]
    assert counts, [s.name for s in spans]
    # the request's SQL ran inside its trace (start-up reads, e.g. of API keys, have their own)
    assert {s.context.trace_id for s in counts} == {server.context.trace_id}


async def test_off_unless_enabled(tmp_path: Path, sqlite_url: str) -> None:
    exporter = InMemorySpanExporter()
    await _ask(Settings(database_url=sqlite_url, run_jobs=False), exporter)
    assert exporter.get_finished_spans() == ()


def test_enabled_by_the_otlp_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    assert Settings.from_env().otel is True
    monkeypatch.setenv("SLICEBOARD_OTEL", "0")
    assert Settings.from_env().otel is False
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT")
    monkeypatch.setenv("SLICEBOARD_OTEL", "1")
    assert Settings.from_env().otel is True
