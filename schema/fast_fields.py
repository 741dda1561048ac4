"""Fields that only read their own object, resolved without strawberry's per-call machinery.

A page of 100 items with their annotations is ~9,800 fields, and strawberry resolves each one
through a chain built for the general case: an ``Info`` object, argument conversion, the field
extension chain, the schema extensions' ``resolve`` hook, then graphql-core's leaf completion.
About 9 µs a field; a page cost ~100 ms of CPU, so 8 clients queued behind each other for
seconds (issue 11 §10, py-spy during ``bench/mixed_load.py``). Almost all of those fields are
``def label(self) -> str: return self.row.label``.

So, once per schema, ``install`` finds every field that is *trivial* — a plain attribute, or a
synchronous method whose only parameter is ``self``; no arguments, no ``info``, no field
extensions or permission classes — and:

* gives its graphql-core field that method as resolver (what strawberry would call in the end);
* lists it for *inline completion*: the execution context below completes such a field, and
  the whole tree under it while every field in that tree is trivial too (an annotation's
  ``geometry`` union, a polygon's ``vertices``), as plain dicts and lists — no path, no info,
  no awaitable check per field. Anything unusual — a method raises, a non-null field answers
  None, ``serialize`` refuses a value, a field node carries a directive, a value's class is not
  exactly its GraphQL type's (interfaces, ``strawberry.cast``), ``@defer`` — abandons the inline
  attempt for that field, which then goes through graphql-core's own ``execute_field``: errors
  and their paths are exactly what they were.

Skipping the schema extensions' ``resolve`` is safe for these fields: the only one
(``YieldToLoop``) passes synchronous results through untouched.

Internals relied on: strawberry's ``strawberry-definition`` back-reference in a graphql-core
field's extensions, ``StrawberryField.base_resolver`` / ``StrawberryResolver.wrapped_func``,
``config.default_resolver``, and graphql-core's ``Executor.execute_fields`` signature.
``tests/schema/test_fast_fields.py`` checks them against the installed versions.
"""

from __future__ import annotations

import inspect
import math
import operator
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, cast

import strawberry
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    Undefined,
)
from graphql.pyutils import Path
from graphql.type import scalars
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.base import StrawberryObjectDefinition
from strawberry.types.cast import TYPE_CAST_ATTRIBUTE
from strawberry.types.field import StrawberryField

from sliceboard.schema.upload_hooks import graphql_core_schema

DEFINITION_BACKREF = "strawberry-definition"

Getter = Callable[[Any], Any]


_SLOW: Any = object()
"""Returned by a completer that declines: graphql-core completes the field instead."""


class Inliner(Protocol):
    def inline_object(self, object_type: GraphQLObjectType, value: Any, details: Any) -> Any: ...


Completer = Callable[[Inliner, Any, Any], Any]
"""``(context, resolved value, field details) -> completed value | _SLOW``."""


class Plan:
    """Per schema: each object type's trivial fields (getter and completer), by field name."""

    def __init__(self) -> None:
        self.fields: dict[str, dict[str, tuple[Getter, Completer]]] = {}
        self.lists: dict[GraphQLList[Any], Completer] = {}

    def list_completer(self, kind: GraphQLList[Any]) -> Completer:
        found = self.lists.get(kind)
        if found is None:
            found = self.lists[kind] = completer(kind, self)
        return found


_PLANS: weakref.WeakKeyDictionary[GraphQLSchema, Plan] = weakref.WeakKeyDictionary()

_SHORTCUTS: dict[Callable[[Any], Any], tuple[type, Callable[[Any], bool]]] = {
    scalars.serialize_float: (float, math.isfinite),
    scalars.serialize_string: (str, lambda _value: True),
    scalars.serialize_id: (str, lambda _value: True),
    scalars.serialize_boolean: (bool, lambda _value: True),
    scalars.serialize_int: (
        int,
        lambda value: scalars.GRAPHQL_MIN_INT <= value <= scalars.GRAPHQL_MAX_INT,
    ),
}


def trivial_getter(field: GraphQLField, default_resolver: Any) -> Getter | None:
    """``source -> value`` when resolving ``field`` is just reading its object, else None."""
    definition = field.extensions.get(DEFINITION_BACKREF)
    if not isinstance(definition, StrawberryField) or field.args:
        return None
    if definition.extensions or definition.permission_classes or definition.is_async:
        return None
    resolver = definition.base_resolver
    if resolver is None:
        return operator.attrgetter(definition.python_name) if default_resolver is getattr else None
    if resolver.is_async or resolver.self_parameter is None:
        return None
    function = resolver.wrapped_func
    if not inspect.isfunction(function):
        return None  # a staticmethod, classmethod or callable object: leave it to strawberry
    if len(inspect.signature(function).parameters) != 1:
        return None
    return function  # type: ignore[no-any-return]


def _origin(object_type: GraphQLObjectType) -> type | None:
    """The Python class whose instances are exactly this type's values, if there is one."""
    definition = object_type.extensions.get(DEFINITION_BACKREF)
    if not isinstance(definition, StrawberryObjectDefinition) or object_type.is_type_of:
        return None
    return definition.origin


def _uncast(value: Any) -> bool:
    return getattr(value, TYPE_CAST_ATTRIBUTE, None) is None


def completer(kind: GraphQLOutputType, plan: Plan) -> Completer:
    """How to complete a value of ``kind`` inline (graphql-core's ``complete_value``, narrowed)."""
    if isinstance(kind, GraphQLNonNull):
        inner = completer(kind.of_type, plan)

        def non_null(context: Inliner, value: Any, details: Any) -> Any:
            return _SLOW if value is None else inner(context, value, details)

        return non_null
    if isinstance(kind, GraphQLScalarType | GraphQLEnumType):
        serialize = kind.serialize
        # graphql-core's built-in serializers answer a value of exactly this Python type with
        # the value itself (a finite float, a str, a bool, a 32-bit int): skip the call.
        own = _SHORTCUTS.get(serialize)

        def leaf(_context: Inliner, value: Any, _details: Any) -> Any:
            if value is None:
                return None
            if own is not None and type(value) is own[0] and own[1](value):
                return value
            try:
                serialized = serialize(value)
            except Exception:  # graphql-core's own completion reports it, with its path
                return _SLOW
            return _SLOW if serialized is None or serialized is Undefined else serialized

        return leaf
    if isinstance(kind, GraphQLList):
        item = completer(kind.of_type, plan)

        def many(context: Inliner, value: Any, details: Any) -> Any:
            if value is None:
                return None
            if not isinstance(value, list | tuple):
                return _SLOW
            out = []
            for element in value:
                done = item(context, element, details)
                if done is _SLOW:
                    return _SLOW
                out.append(done)
            return out

        return many
    if isinstance(kind, GraphQLObjectType):
        origin = _origin(kind)

        def one(context: Inliner, value: Any, details: Any) -> Any:
            if value is None:
                return None
            if origin is None or type(value) is not origin or not _uncast(value):
                return _SLOW
            return context.inline_object(kind, value, details)

        return one
    if isinstance(kind, GraphQLUnionType):
        members = {
            origin: member for member in kind.types if (origin := _origin(member)) is not None
        }

        def either(context: Inliner, value: Any, details: Any) -> Any:
            if value is None:
                return None
            member = members.get(type(value))
            if member is None or not _uncast(value):
                return _SLOW
            return context.inline_object(member, value, details)

        return either
    return lambda _context, _value, _details: _SLOW  # interfaces: strawberry's resolve_type


def _reading_resolver(get: Getter) -> Callable[..., Any]:
    def resolve(source: Any, _info: Any, **_arguments: Any) -> Any:
        return get(source)

    return resolve


def install(schema: strawberry.Schema) -> None:
    """Resolve ``schema``'s trivial fields directly and plan their inline completion."""
    core = graphql_core_schema(schema)
    default_resolver = schema.config.default_resolver
    plan = Plan()
    roots = (core.query_type, core.mutation_type, core.subscription_type)
    for type_name, named in core.type_map.items():
        if not isinstance(named, GraphQLObjectType) or type_name.startswith("__"):
            continue
        if named in roots:
            continue
        for field_name, field in named.fields.items():
            get = trivial_getter(field, default_resolver)
            if get is None:
                continue
            field.resolve = _reading_resolver(get)
            plan.fields.setdefault(type_name, {})[field_name] = (get, completer(field.type, plan))
    _PLANS[core] = plan


def plan_of(schema: GraphQLSchema) -> Plan:
    return _PLANS.get(schema) or Plan()


class FastFieldsExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Completes the trivial fields ``install`` planned inline; the rest as graphql-core does."""

    _plan: Plan | None = None
    _steps: dict[tuple[str, int], Any] | None = None

    def _the_plan(self) -> Plan:
        plan = self._plan
        if plan is None:
            plan = self._plan = plan_of(self.schema)
        return plan

    def _fields_of(self, type_name: str) -> dict[str, tuple[Getter, Completer]] | None:
        return self._the_plan().fields.get(type_name)

    def _compile(self, object_type: GraphQLObjectType, details: Any) -> list[Any] | None:
        """The steps that complete ``details``' selection on ``object_type`` inline, or None
        when it never can (a field with a resolver of its own, a directive, ``@defer``)."""
        fields = self._fields_of(object_type.name)
        if fields is None:
            return None
        grouped, defers, _forbidden = self.collect_subfields(object_type, details)
        if defers:
            return None
        steps: list[Any] = []
        for response_name, field_details in grouped.items():
            node = field_details[0].node
            if node.directives:
                return None
            name = node.name.value
            if name == "__typename":
                steps.append((response_name, None, object_type.name, None))
                continue
            entry = fields.get(name)
            if entry is None:
                return None
            steps.append((response_name, entry[0], entry[1], field_details))
        return steps

    def inline_object(self, object_type: GraphQLObjectType, value: Any, details: Any) -> Any:
        known = self._steps
        if known is None:
            known = self._steps = {}
        key = (object_type.name, id(details))
        found = known.get(key)
        if found is None:
            # The details list rides along so its id cannot be reused while this context lives.
            found = known[key] = (self._compile(object_type, details), details)
        steps = found[0]
        if steps is None:
            return _SLOW
        out: dict[str, Any] = {}
        for response_name, get, complete, field_details in steps:
            if get is None:
                out[response_name] = complete  # __typename
                continue
            try:
                resolved = get(value)
            except Exception:  # graphql-core's own completion reports it, with its path
                return _SLOW
            done = complete(self, resolved, field_details)
            if done is _SLOW:
                return _SLOW
            out[response_name] = done
        return out

    def complete_list_value(  # type: ignore[override]
        self,
        return_type: GraphQLList[Any],
        field_details_list: Any,
        info: Any,
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        """A list that a resolver of its own answered synchronously (``Item.annotations`` read
        ahead) is completed inline when every element's selection is trivial."""
        if isinstance(result, list | tuple) and not field_details_list[0].node.directives:
            try:
                done = self._the_plan().list_completer(return_type)(
                    self, result, field_details_list
                )
            except Exception:  # graphql-core's own completion reports it, with its path
                done = _SLOW
            if done is not _SLOW:
                return done
        return super().complete_list_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def execute_fields(  # type: ignore[override]
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: dict[str, Any],
        position_context: Any,
    ) -> Any:
        fields = self._fields_of(parent_type.name)
        if not fields:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        done: dict[str, Any] = {}
        rest: dict[str, Any] = {}
        for response_name, details in grouped_field_set.items():
            node = details[0].node
            entry = fields.get(node.name.value)
            if entry is not None and not node.directives:
                get, complete = entry
                try:
                    value = complete(self, get(source_value), details)
                except Exception:  # graphql-core's own completion reports it, with its path
                    value = _SLOW
                if value is not _SLOW:
                    done[response_name] = value
                    continue
            rest[response_name] = details
        if not rest:
            return done
        resolved = super().execute_fields(parent_type, source_value, path, rest, position_context)
        if self.is_awaitable(resolved):
            return _in_order(grouped_field_set, done, resolved)
        return _merged(grouped_field_set, done, cast(dict[str, Any], resolved))


def _merged(order: dict[str, Any], done: dict[str, Any], rest: dict[str, Any]) -> dict[str, Any]:
    """The response keys in the document's order, as graphql-core would have written them."""
    return {
        name: done[name] if name in done else rest[name]
        for name in order
        if name in done or name in rest
    }


async def _in_order(
    order: dict[str, Any], done: dict[str, Any], rest: Awaitable[dict[str, Any]]
) -> dict[str, Any]:
    return _merged(order, done, await rest)
