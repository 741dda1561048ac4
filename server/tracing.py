"""Optional OpenTelemetry traces: a span per HTTP request (starlette) with the SQL it ran
(SQLAlchemy) below it, exported over OTLP.

On when ``SLICEBOARD_OTEL=1`` (or, unless that says otherwise, when
``OTEL_EXPORTER_OTLP_ENDPOINT`` is set). The packages are the ``otel`` extra
(``pip install 'sliceboard[otel]'``) and are imported only then, so a server without them pays
nothing. The exporter reads the standard ``OTEL_EXPORTER_OTLP_*`` variables; the service is
called ``sliceboard`` unless ``OTEL_SERVICE_NAME`` says otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette

from sliceboard.config import SettingsError
from sliceboard.runtime import Runtime

EXTRA = "pip install 'sliceboard[otel]'"


def instrument(
    app: Starlette, runtime: Runtime, tracer_provider: Any | None = None
) -> Callable[[], None] | None:
    """Traces ``app`` and ``runtime``'s database when enabled; the function that flushes and
    stops the exporter at shutdown, or None when tracing is off."""
    if not runtime.settings.otel:
        return None
    try:
        from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
        from opentelemetry.instrumentation.starlette import StarletteInstrumentor
        from opentelemetry.metrics import get_meter
        from opentelemetry.trace import get_tracer
    except ImportError as exc:
        raise SettingsError(
            "otel", f"tracing needs the OpenTelemetry packages ({EXTRA}): {exc}"
        ) from None
    owned = tracer_provider is None
    provider: Any = _otlp_provider() if owned else tracer_provider
    StarletteInstrumentor.instrument_app(app, tracer_provider=provider)
    # This runtime's engine only, through the instrumentation's engine tracer:
    # SQLAlchemyInstrumentor is one per process (a second app would go untraced), patches
    # create_engine everywhere, and refuses SQLAlchemy 2.1 by its declared range although the
    # engine events it hooks are unchanged (tests/test_tracing.py checks the statements arrive).
    connections = get_meter(__name__).create_up_down_counter(
        "db.client.connections.usage", unit="connections"
    )
    EngineTracer(  # type: ignore[no-untyped-call]
        get_tracer(__name__, tracer_provider=provider), runtime.database.sync_engine, connections
    )

    def stop() -> None:
        if owned:
            provider.shutdown()  # flushes the spans still batched

    return stop


def _otlp_provider() -> Any:
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        raise SettingsError(
            "otel", f"tracing needs the OpenTelemetry packages ({EXTRA}): {exc}"
        ) from None
    attributes = {} if os.environ.get("OTEL_SERVICE_NAME") else {"service.name": "sliceboard"}
    provider = TracerProvider(resource=Resource.create(attributes))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider
