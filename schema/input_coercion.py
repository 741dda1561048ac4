"""Precompiled coercion of upload variables straight into the services' snake_case dicts.

graphql-core's ``coerce_input_value`` walks a variable generically (type predicates, default
look-ups, and a separate depth walk over the whole value), about 23 µs per prediction row, and
every dict was then copied again to rename its keys. Here one closure per input type, built once
from the schema, does both in one pass over the JSON the client sent.

The closures accept only what graphql-core accepts, by the same rules: non-null, lists, known
fields, required fields, field defaults and each scalar's own ``coerce_input_value``; common
values (a ``str`` for String, a finite ``float`` for Float, a 32-bit ``int`` for Int, a ``bool``
for Boolean) are recognised inline and anything else goes to the scalar's own function. Any
doubt — a value graphql-core would reject, or one it would accept by a rule not mirrored here
(a lone value where a list is expected, a dict subclass) — raises ``Unhandled``; the caller then
leaves the variable to graphql-core, which coerces it or reports the error exactly as before.
What graphql-core coerced (such a variable, or rows written inline in the document) is renamed
afterwards by ``compile_renamer``, so a service receives the same dicts either way.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from graphql import (
    GRAPHQL_MAX_INT,
    GRAPHQL_MIN_INT,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLFloat,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    GraphQLString,
    Undefined,
)
from graphql.type import is_required_input_field
from graphql.utilities.coerce_input_value import coerce_default_value

Coerce = Callable[[Any], Any]
_INF = float("inf")


class Unhandled(Exception):
    """The fast path does not vouch for this value; graphql-core must coerce it."""


_UNHANDLED = Unhandled()  # raised often on bad input, so built once


class SnakeRows(list[Any]):
    """A batch already coerced and renamed here, so the resolver hands it on as it is."""


def snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _leaf(type_: GraphQLScalarType | GraphQLEnumType, nullable: bool) -> Coerce:
    own = type_.coerce_input_value

    def slow(value: Any) -> Any:
        if value is None:
            if nullable:
                return None
            raise _UNHANDLED
        try:
            result = own(value)
        except Exception:  # graphql-core turns any error of a scalar into "invalid"
            raise _UNHANDLED from None
        if result is Undefined:
            raise _UNHANDLED
        return result

    # The inline tests never pass None, so null handling stays in ``slow``.
    if type_ is GraphQLString:
        return lambda value: value if type(value) is str else slow(value)
    if type_ is GraphQLBoolean:
        return lambda value: value if type(value) is bool else slow(value)
    if type_ is GraphQLFloat:
        # False for inf and NaN, which Float rejects.
        return lambda value: value if type(value) is float and -_INF < value < _INF else slow(value)
    if type_ is GraphQLInt:
        return lambda value: (
            value
            if type(value) is int and GRAPHQL_MIN_INT <= value <= GRAPHQL_MAX_INT
            else slow(value)
        )
    return slow


def _list(type_: GraphQLList[Any], nullable: bool, seen: dict[Any, Coerce]) -> Coerce:
    item = compile_coercer(type_.of_type, seen)

    def coerce_list(value: Any) -> Any:
        if type(value) is list:
            return [item(v) for v in value]
        if value is None and nullable:
            return None
        raise _UNHANDLED  # null for non-null, or a lone value graphql-core would wrap

    return coerce_list


def _object(type_: GraphQLInputObjectType, nullable: bool, seen: dict[Any, Coerce]) -> Coerce:
    if type_.is_one_of or type_.out_type is not GraphQLInputObjectType.out_type:
        raise TypeError(f"{type_.name}: oneOf and a custom out_type are not mirrored here")
    known: dict[str, tuple[str, Coerce]] = {}
    # Only fields that are required or have a default matter when a row leaves them out.
    absent: list[tuple[str, Any]] = []
    required = object()

    def coerce_object(value: Any) -> Any:
        if type(value) is not dict:
            if value is None and nullable:
                return None
            raise _UNHANDLED
        out = {}
        for key, item in value.items():
            entry = known.get(key)
            if entry is None:
                raise _UNHANDLED
            out[entry[0]] = entry[1](item)
        for name, default in absent:
            if name not in out:
                if default is required:
                    raise _UNHANDLED
                out[name] = default
        return out

    seen[(type_.name, nullable)] = coerce_object  # first: an input type may contain itself
    for key, field in type_.fields.items():
        name = snake_case(field.out_name or key)
        known[key] = (name, compile_coercer(field.type, seen))
        if is_required_input_field(field):
            absent.append((name, required))
        else:
            default = coerce_default_value(field)
            if default is not Undefined:
                absent.append((name, _renamed(default, field.type)))
    return coerce_object


def _renamed(value: Any, type_: GraphQLInputType) -> Any:
    """A default as graphql-core coerced it, with input-object keys renamed like a sent value."""
    if isinstance(type_, GraphQLNonNull):
        return _renamed(value, type_.of_type)
    if value is None:
        return None
    if isinstance(type_, GraphQLList):
        return [_renamed(item, type_.of_type) for item in value]
    if isinstance(type_, GraphQLInputObjectType):
        return {
            snake_case(type_.fields[key].out_name or key): _renamed(item, type_.fields[key].type)
            for key, item in value.items()
        }
    return value


def compile_coercer(type_: GraphQLInputType, seen: dict[Any, Coerce] | None = None) -> Coerce:
    """A function that coerces a JSON value of ``type_`` or raises ``Unhandled``."""
    seen = {} if seen is None else seen
    nullable = not isinstance(type_, GraphQLNonNull)
    bare = type_ if nullable else type_.of_type  # type: ignore[union-attr]
    if isinstance(bare, GraphQLList):
        return _list(bare, nullable, seen)
    if isinstance(bare, GraphQLInputObjectType):
        return seen.get((bare.name, nullable)) or _object(bare, nullable, seen)
    assert isinstance(bare, GraphQLScalarType | GraphQLEnumType)
    return _leaf(bare, nullable)


def compile_rows_coercer(type_: GraphQLInputType) -> Callable[[Any], SnakeRows]:
    """For a batch argument's list type: the coerced rows, marked as already renamed."""
    coerce = compile_coercer(type_)

    def coerce_rows(value: Any) -> SnakeRows:
        rows = coerce(value)
        if rows is None:  # a nullable batch sent as null: graphql-core's null will do
            raise _UNHANDLED
        return SnakeRows(rows)

    return coerce_rows


def compile_renamer(type_: GraphQLInputType) -> Coerce:
    """Renames input-object keys throughout a value graphql-core coerced to ``type_``.

    JSON scalars (metadata, classPdf, RLE counts) pass through untouched, as they do through
    strawberry's own conversion.
    """
    return _renamer(type_, {}) or _same


def _renamer(type_: GraphQLInputType, seen: dict[str, Coerce]) -> Coerce | None:
    """None when a value of ``type_`` holds nothing to rename."""
    if isinstance(type_, GraphQLNonNull):
        return _renamer(type_.of_type, seen)
    if isinstance(type_, GraphQLList):
        inner = _renamer(type_.of_type, seen)
        if inner is None:
            return None
        return lambda values: None if values is None else [inner(v) for v in values]
    if not isinstance(type_, GraphQLInputObjectType):
        return None
    if type_.name in seen:  # a type that contains itself
        return seen[type_.name]
    fields: dict[str, tuple[str, Coerce | None]] = {}

    def rename_object(value: Any) -> Any:
        if value is None:
            return None
        out = {}
        for key, item in value.items():
            name, inner = fields[key]
            out[name] = item if inner is None else inner(item)
        return out

    seen[type_.name] = rename_object
    for key, field in type_.fields.items():
        fields[key] = (snake_case(field.out_name or key), _renamer(field.type, seen))
    return rename_object


def _same(value: Any) -> Any:
    return value
