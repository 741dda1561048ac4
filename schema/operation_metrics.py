"""Counts each GraphQL operation for /metrics: by operation name and type, its latency, and its
top-level errors by code. One hook around the operation, none per field: a few microseconds a
request."""

from __future__ import annotations

import time
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from sliceboard.metrics import Metrics
from sliceboard.schema.extensions import classify


def error_code(error: GraphQLError) -> str:
    """The code a client sees (already set once ErrorCodes has run, else classified here)."""
    code = (error.extensions or {}).get("code")
    return str(code) if code else classify(error)[1]["code"]


class OperationMetrics(SchemaExtension):
    def __init__(self, *, metrics: Metrics) -> None:
        self.metrics = metrics

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        context = self.execution_context
        try:
            kind = context.operation_type
        except Exception:  # the document did not parse, or names no operation
            kind = None
        seconds = time.perf_counter() - started
        result = context.result
        errors = getattr(result, "errors", None) or context.pre_execution_errors or []
        self.metrics.observe_operation(
            context.operation_name,
            kind.value if kind is not None else "unknown",
            None if kind is OperationType.SUBSCRIPTION else seconds,
            (error_code(error) for error in errors),
        )
