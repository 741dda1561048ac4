"""Upload mutations read graphql-core's coerced arguments directly.

strawberry turns every input object of a batch into a dataclass, and ``schema/convert.py`` turns
it back into the dict a service takes; for a batch of 5,000 predictions that round trip was
about 60% of the server's CPU (py-spy during ``bench/upload.py``). graphql-core has already
validated and coerced the arguments into plain dicts, so the three upload fields get a resolver
that only renames their keys to the services' snake_case names, with a converter built once per
input type from the schema itself. JSON scalars (metadata, classPdf, RLE counts) pass through
untouched, as they do through strawberry. A batch that ``schema/upload_executor.py`` coerced
itself arrives already renamed (a ``SnakeRows``) and is handed on as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry
from graphql import (
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLResolveInfo,
)

from sliceboard.schema.input_coercion import SnakeRows, snake_case
from sliceboard.schema.uploads import upload_rows

Convert = Callable[[Any], Any]
# GraphQL field -> (id argument, rows argument); the service is chosen by the rows argument.
UPLOAD_FIELDS = {
    "upsertItems": ("datasetId", "items"),
    "upsertAnnotations": ("datasetId", "annotations"),
    "upsertPredictions": ("modelRunId", "predictions"),
}


def converter(type_: GraphQLInputType, _seen: dict[str, Convert] | None = None) -> Convert | None:
    """Renames input-object keys throughout a value of ``type_``; None when nothing to rename."""
    seen = {} if _seen is None else _seen
    if isinstance(type_, GraphQLNonNull):
        return converter(type_.of_type, seen)
    if isinstance(type_, GraphQLList):
        inner = converter(type_.of_type, seen)
        if inner is None:
            return None
        return lambda values: None if values is None else [inner(v) for v in values]
    if not isinstance(type_, GraphQLInputObjectType):
        return None
    if type_.name in seen:  # a type that contains itself
        return seen[type_.name]
    fields: dict[str, tuple[str, Convert | None]] = {}

    def convert_object(value: Any) -> Any:
        if value is None:
            return None
        out = {}
        for key, item in value.items():
            name, inner = fields[key]
            out[name] = item if inner is None else inner(item)
        return out

    seen[type_.name] = convert_object
    for key, field in type_.fields.items():
        fields[key] = (snake_case(key), converter(field.type, seen))
    return convert_object


def install(schema: strawberry.Schema) -> None:
    """Give the upload fields of ``schema`` their plain-dict resolvers."""
    fields = schema._schema.mutation_type.fields  # type: ignore[union-attr]
    for name, (id_argument, rows_argument) in UPLOAD_FIELDS.items():
        field = fields[name]
        convert = converter(field.args[rows_argument].type)
        assert convert is not None
        field.resolve = _resolver(id_argument, rows_argument, convert)


def _resolver(id_argument: str, rows_argument: str, convert: Convert) -> Callable[..., Any]:
    async def resolve(_root: Any, info: GraphQLResolveInfo[Any], **arguments: Any) -> Any:
        return await upload_rows(
            info.context,
            rows_argument,
            target_id=str(arguments[id_argument]),
            rows=rows if type(rows := arguments[rows_argument]) is SnakeRows else convert(rows),
            update=bool(arguments.get("update")),
        )

    return resolve
