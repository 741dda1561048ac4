"""Refuse a document whose cost (``schema/cost.py``) is over a limit, before it runs.

The answer is a top-level error with code LIMIT_EXCEEDED that names the figure and its limit
(``extensions``: ``nodes``/``cost`` and ``limit``), so a client can page or split the query.
It runs after validation, since the figures depend on the variables (``first: $n``).
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import ExecutionResult, GraphQLError
from strawberry.extensions import SchemaExtension

from sliceboard.config import Settings
from sliceboard.schema.cost import Cost, measure
from sliceboard.schema.extensions import PublicError


def refusal(measured: Cost, settings: Settings) -> PublicError | None:
    if measured.nodes > settings.max_query_nodes:
        return PublicError(
            f"Query may return up to {measured.nodes:,} nodes; the limit is "
            f"{settings.max_query_nodes:,}. Ask for smaller pages (`first`) or fewer nested lists.",
            code="LIMIT_EXCEEDED",
            nodes=measured.nodes,
            limit=settings.max_query_nodes,
        )
    if measured.cost > settings.max_query_cost:
        return PublicError(
            f"Query cost {measured.cost:,} exceeds the limit of {settings.max_query_cost:,} "
            "(metrics, curves, matrices and custom metrics weigh the most). Split the query.",
            code="LIMIT_EXCEEDED",
            cost=measured.cost,
            limit=settings.max_query_cost,
        )
    return None


class CostLimit(SchemaExtension):
    def __init__(self, *, settings: Settings) -> None:
        self.settings = settings

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is not None:
            measured = measure(
                context.schema._schema,
                context.graphql_document,
                operation_name=context.operation_name,
                variables=context.variables,
                max_list_items=self.settings.max_list_items,
                max_page_size=self.settings.max_page_size,
            )
            refused = refusal(measured, self.settings)
            if refused is not None:
                # A result set here replaces execution (strawberry skips the executor).
                context.result = ExecutionResult(
                    data=None, errors=[GraphQLError(refused.message, original_error=refused)]
                )
        yield
