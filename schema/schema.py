"""The assembled schema. ``build_schema(settings)`` is what the app serves; the module-level
``schema`` (default limits) is what ``strawberry export-schema sliceboard.schema.schema`` writes to
``schema/schema.graphql``."""

from __future__ import annotations

from pathlib import Path

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.types import ExecutionContext

from sliceboard.config import Settings
from sliceboard.metrics import Metrics
from sliceboard.schema import audit_hooks, fast_fields, upload_hooks
from sliceboard.schema.cost_limit import CostLimit
from sliceboard.schema.extensions import ErrorCodes, is_bug
from sliceboard.schema.loop_yield import YieldToLoop
from sliceboard.schema.mutation import Mutation
from sliceboard.schema.operation_metrics import OperationMetrics
from sliceboard.schema.permissions import Permissions
from sliceboard.schema.query import Query
from sliceboard.schema.subscription import Subscription

SDL_PATH = Path(__file__).with_name("schema.graphql")


class SliceboardSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Log bugs with their traceback; an expected error is the client's business, not a log line."""
        super().process_errors([error for error in errors if is_bug(error)], execution_context)


class SliceboardExecutionContext(
    fast_fields.FastFieldsExecutionContext, upload_hooks.UploadExecutionContext
):
    """Coerces upload batches in one pass (schema/upload_hooks.py) and completes the fields that
    only read their object inline (schema/fast_fields.py)."""


def build_schema(
    settings: Settings | None = None, metrics: Metrics | None = None, *, fast: bool = True
) -> strawberry.Schema:
    """The schema the app serves; ``metrics`` (the runtime's) counts its operations.

    ``fast=False`` leaves out the inline completion of schema/fast_fields.py: the plain
    strawberry path its tests compare against.
    """
    settings = settings or Settings()
    counting = [lambda: OperationMetrics(metrics=metrics)] if metrics is not None else []
    limit_rules = [
        *QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules,
    ]
    built = SliceboardSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[
            # Factories, not instances: an extension keeps per-operation state.
            # The limit rules are built once so every operation validates with the same rule
            # classes: the validation cache below keys on them.
            lambda: AddValidationRules(limit_rules),
            lambda: Permissions(settings=settings),
            lambda: CostLimit(settings=settings),
            YieldToLoop,
            ErrorCodes,
            # Clients send the same documents again and again: parsing and validating one was
            # ~60% of a cached metrics query's CPU (py-spy). Both caches are bounded LRUs.
            lambda: ParserCache(maxsize=256),
            lambda: ValidationCache(maxsize=256),
            *counting,
        ],
        execution_context_class=(
            SliceboardExecutionContext if fast else upload_hooks.UploadExecutionContext
        ),
    )
    upload_hooks.install(built)
    audit_hooks.install(built)  # after the upload hooks: it wraps the resolvers they set
    if fast:
        fast_fields.install(built)
    return built


def sdl() -> str:
    """The SDL as committed (with a trailing newline)."""
    return build_schema().as_str() + "\n"


schema = build_schema()
