"""The execution context that coerces upload batches with ``schema/input_coercion.py``.

graphql-core coerces all variables inside ``Executor.build``. This subclass first tries the
precompiled coercer on each variable whose declared type is a batch argument's type (such as
``[PredictionInput!]!``); a batch it vouches for is swapped for an empty list before graphql-core
runs (coercing ``[]`` costs nothing) and put back, already coerced and renamed, once the
executor exists. Everything else — other variables, operation selection, and every batch the
fast path has any doubt about — goes through graphql-core unchanged, so its errors
(``Variable '$rows' got invalid value ...``) are exactly what they were.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from graphql import DocumentNode, GraphQLSchema, OperationDefinitionNode, print_ast
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from sliceboard.schema.input_coercion import SnakeRows, Unhandled, compile_rows_coercer

RowsCoercer = Callable[[Any], SnakeRows]
# Mutation field -> its batch argument: the arguments whose types get the fast path.
BATCH_ARGUMENTS = {
    "upsertItems": "items",
    "upsertAnnotations": "annotations",
    "upsertPredictions": "predictions",
}
_COERCERS: weakref.WeakKeyDictionary[GraphQLSchema, dict[str, RowsCoercer]] = (
    weakref.WeakKeyDictionary()
)


def batch_coercers(schema: GraphQLSchema) -> dict[str, RowsCoercer]:
    """Printed variable type (``[PredictionInput!]!`` and its nullable form) -> coercer."""
    coercers = _COERCERS.get(schema)
    if coercers is None:
        coercers = {}
        assert schema.mutation_type is not None
        for field_name, argument in BATCH_ARGUMENTS.items():
            type_ = schema.mutation_type.fields[field_name].args[argument].type
            for variant in (type_, getattr(type_, "of_type", type_)):
                coercers[str(variant)] = compile_rows_coercer(variant)
        _COERCERS[schema] = coercers
    return coercers


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    """The operation graphql-core will run; None where it will refuse (it says why)."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    named = [op for op in operations if op.name is not None and op.name.value == name]
    return named[-1] if named else None


class UploadExecutionContext(StrawberryGraphQLCoreExecutionContext):
    @classmethod
    def build(  # type: ignore[override]
        cls,
        schema: GraphQLSchema,
        document: DocumentNode,
        root_value: Any = None,
        context_value: Any = None,
        raw_variable_values: dict[str, Any] | None = None,
        operation_name: str | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        fast: dict[str, tuple[SnakeRows, Any]] = {}
        operation = _operation(document, operation_name) if raw_variable_values else None
        if operation is not None and operation.variable_definitions:
            assert raw_variable_values is not None
            coercers = batch_coercers(schema)
            for definition in operation.variable_definitions:
                name = definition.variable.name.value
                coerce = coercers.get(print_ast(definition.type))
                if coerce is None or name not in raw_variable_values:
                    continue
                original = raw_variable_values[name]
                try:
                    fast[name] = (coerce(original), original)
                except Unhandled:
                    continue
            if fast:
                raw_variable_values = {**raw_variable_values, **{name: [] for name in fast}}
        built = super().build(
            schema,
            document,
            root_value,
            context_value,
            raw_variable_values,
            operation_name,
            *args,
            **kwargs,
        )
        if fast and not isinstance(built, list):
            values = built.variable_values
            for name, (rows, original) in fast.items():
                values.coerced[name] = rows
                values.sources[name] = values.sources[name]._replace(value=original)
        return built
