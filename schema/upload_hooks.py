"""Where the upload path reaches under strawberry's public API: every such use, in one place.

A batch of 5,000 predictions costs strawberry's input conversion (a dataclass per input object,
then ``to_plain`` back to dicts) about 60% of the server's CPU, and graphql-core's generic
variable coercion about 23 µs a row (py-spy during ``bench/upload.py``). So, for each field of
``schema/uploads.py``'s ``BATCH_FIELDS``:

* ``UploadExecutionContext`` (strawberry's ``execution_context_class``) coerces a batch
  variable with the precompiled coercer of ``schema/input_coercion.py`` before graphql-core
  builds the executor. A batch it vouches for is swapped for an empty list (coercing ``[]``
  costs nothing) and put back, coerced and renamed, once the executor exists. Everything else —
  other variables, operation selection, every batch the fast path has any doubt about — goes
  through graphql-core unchanged, so its errors (``Variable '$rows' got invalid value ...``)
  are exactly what they were.
* ``install`` gives the field a graphql-core resolver that calls the field's own strawberry
  resolver (in ``schema/mutation.py``) with the plain rows in place of strawberry's converted
  inputs: the precompiled ``SnakeRows`` as they are, graphql-core's coercion renamed.

The internals relied on: ``strawberry.Schema._schema`` (the graphql-core schema),
``StrawberryGraphQLCoreExecutionContext`` and graphql-core's ``ExecutionContext.build``
parameters and ``VariableValues`` (``coerced``, ``sources``), and ``Info(_raw_info, _field)``.
``install`` checks what it can when the schema is built and raises ``UploadHooksBroken``;
``tests/schema/test_upload_hooks.py`` checks the rest.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

import strawberry
from graphql import (
    DocumentNode,
    GraphQLField,
    GraphQLFieldResolver,
    GraphQLNamedType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    GraphQLSchema,
    OperationDefinitionNode,
    get_named_type,
    print_ast,
)
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.field import StrawberryField

from sliceboard.schema.input_coercion import (
    SnakeRows,
    Unhandled,
    compile_renamer,
    compile_rows_coercer,
)
from sliceboard.schema.uploads import BATCH_FIELDS, BatchField

RowsCoercer = Callable[[Any], SnakeRows]
_COERCERS: weakref.WeakKeyDictionary[GraphQLSchema, dict[str, RowsCoercer]] = (
    weakref.WeakKeyDictionary()
)


class UploadHooksBroken(RuntimeError):
    """An assumption below no longer holds: a strawberry upgrade, or a field they cannot feed."""


def _require(condition: bool, assumption: str) -> None:
    if not condition:
        raise UploadHooksBroken(
            f"schema/upload_hooks.py assumes {assumption} "
            f"(strawberry-graphql {version('strawberry-graphql')})"
        )


def graphql_core_schema(schema: strawberry.Schema) -> GraphQLSchema:
    """The graphql-core schema strawberry built (it has no public accessor)."""
    core = getattr(schema, "_schema", None)
    _require(isinstance(core, GraphQLSchema), "strawberry.Schema._schema is a GraphQLSchema")
    assert isinstance(core, GraphQLSchema)
    return core


def batch_coercers(schema: GraphQLSchema) -> dict[str, RowsCoercer]:
    """Printed variable type (``[PredictionInput!]!`` and its nullable form) -> coercer."""
    coercers = _COERCERS.get(schema)
    if coercers is None:
        coercers = {}
        assert schema.mutation_type is not None
        for batch in BATCH_FIELDS:
            type_ = schema.mutation_type.fields[batch.field].args[batch.rows_argument].type
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


def install(schema: strawberry.Schema) -> None:
    """Resolve each batch field of ``schema`` through its own resolver, fed plain rows."""
    mutation_type = graphql_core_schema(schema).mutation_type
    assert mutation_type is not None
    for batch in BATCH_FIELDS:
        field = schema.get_field_for_type(batch.field, mutation_type.name)
        assert field is not None, f"{batch.field} is in BATCH_FIELDS but not in the schema"
        graphql_field = mutation_type.fields[batch.field]
        graphql_field.resolve = _plain_rows_resolver(schema, field, graphql_field, batch)


def _plain_rows_resolver(
    schema: strawberry.Schema,
    field: StrawberryField,
    graphql_field: GraphQLField,
    batch: BatchField,
) -> GraphQLFieldResolver:
    resolver = field.base_resolver
    _require(
        resolver is not None and field.is_async and not field.extensions,
        f"{batch.field} is an async resolver without field extensions (they would be skipped)",
    )
    assert resolver is not None
    info_parameter = resolver.info_parameter
    _require(
        resolver.self_parameter is not None and info_parameter is not None,
        f"the resolver of {batch.field} takes self and info",
    )
    assert info_parameter is not None
    # GraphQL argument -> the resolver's parameter
    parameters = {
        schema.config.name_converter.from_argument(argument): argument.python_name
        for argument in field.arguments
    }
    for name, argument in graphql_field.args.items():
        named: GraphQLNamedType = get_named_type(argument.type)
        _require(
            name in parameters
            and (name == batch.rows_argument or isinstance(named, GraphQLScalarType)),
            f"{batch.field}({name}:) is a resolver parameter, scalar unless it holds the rows",
        )
    rows_parameter = parameters[batch.rows_argument]
    rename = compile_renamer(graphql_field.args[batch.rows_argument].type)
    make_info = schema.config.info_class

    async def resolve(root: Any, info: GraphQLResolveInfo[Any], **arguments: Any) -> Any:
        kwargs = {parameters[name]: value for name, value in arguments.items()}
        rows = kwargs[rows_parameter]
        if type(rows) is not SnakeRows:  # graphql-core coerced it: rename its keys
            kwargs[rows_parameter] = rename(rows)
        kwargs[info_parameter.name] = make_info(_raw_info=info, _field=field)
        return await resolver(root, **kwargs)

    return resolve
