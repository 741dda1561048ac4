"""Every name of the public contract (/work/shared/contract.graphql) exists in our schema with a
compatible type: output fields may be stricter (non-null where the contract allows null),
arguments and input fields may be more lenient, and anything we add to an input must be optional.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLType,
    GraphQLUnionType,
    build_schema,
)

from sliceboard.schema.schema import sdl

CONTRACT = Path(__file__).resolve().parents[2] / "shared" / "contract.graphql"


def _render(t: GraphQLType) -> str:
    return str(t)


def output_compatible(ours: GraphQLType, theirs: GraphQLType) -> bool:
    """A client reading ``theirs`` can read ``ours``."""
    if isinstance(theirs, GraphQLNonNull):
        return isinstance(ours, GraphQLNonNull) and output_compatible(ours.of_type, theirs.of_type)
    if isinstance(ours, GraphQLNonNull):
        return output_compatible(ours.of_type, theirs)
    if isinstance(theirs, GraphQLList):
        return isinstance(ours, GraphQLList) and output_compatible(ours.of_type, theirs.of_type)
    return (
        isinstance(ours, GraphQLNamedType)
        and isinstance(theirs, GraphQLNamedType)
        and ours.name == theirs.name
    )


def input_compatible(ours: GraphQLType, theirs: GraphQLType) -> bool:
    """Every value valid for ``theirs`` is valid for ``ours``."""
    if isinstance(ours, GraphQLNonNull):
        return isinstance(theirs, GraphQLNonNull) and input_compatible(ours.of_type, theirs.of_type)
    if isinstance(theirs, GraphQLNonNull):
        return input_compatible(ours, theirs.of_type)
    if isinstance(theirs, GraphQLList):
        return isinstance(ours, GraphQLList) and input_compatible(ours.of_type, theirs.of_type)
    return (
        isinstance(ours, GraphQLNamedType)
        and isinstance(theirs, GraphQLNamedType)
        and ours.name == theirs.name
    )


def _optional(arg: GraphQLArgument | GraphQLInputField) -> bool:
    return not isinstance(arg.type, GraphQLNonNull) or arg.default_value is not None


def _check_arguments(
    where: str,
    ours: dict[str, GraphQLArgument],
    theirs: dict[str, GraphQLArgument],
    problems: list[str],
) -> None:
    for name, arg in theirs.items():
        if name not in ours:
            problems.append(f"{where}({name}:) missing")
        elif not input_compatible(ours[name].type, arg.type):
            problems.append(
                f"{where}({name}:) is {_render(ours[name].type)}, contract {_render(arg.type)}"
            )
    for name in set(ours) - set(theirs):
        if not _optional(ours[name]):
            problems.append(f"{where}({name}:) is required but not in the contract")


def contract_problems(ours: GraphQLSchema, theirs: GraphQLSchema) -> list[str]:
    problems: list[str] = []
    for name, their_type in theirs.type_map.items():
        if name.startswith("__"):
            continue
        our_type = ours.type_map.get(name)
        if our_type is None:
            problems.append(f"type {name} missing")
            continue
        if type(our_type) is not type(their_type):
            problems.append(
                f"{name} is a {type(our_type).__name__}, contract {type(their_type).__name__}"
            )
            continue
        if isinstance(their_type, GraphQLObjectType | GraphQLInterfaceType):
            assert isinstance(our_type, GraphQLObjectType | GraphQLInterfaceType)
            for iface in their_type.interfaces:
                if iface.name not in {i.name for i in our_type.interfaces}:
                    problems.append(f"{name} does not implement {iface.name}")
            for field_name, field in their_type.fields.items():
                ours_field = our_type.fields.get(field_name)
                if ours_field is None:
                    problems.append(f"{name}.{field_name} missing")
                    continue
                if not output_compatible(ours_field.type, field.type):
                    problems.append(
                        f"{name}.{field_name} is {_render(ours_field.type)}, contract {_render(field.type)}"
                    )
                _check_arguments(f"{name}.{field_name}", ours_field.args, field.args, problems)
        elif isinstance(their_type, GraphQLInputObjectType):
            assert isinstance(our_type, GraphQLInputObjectType)
            for field_name, input_field in their_type.fields.items():
                ours_input = our_type.fields.get(field_name)
                if ours_input is None:
                    problems.append(f"{name}.{field_name} missing")
                elif not input_compatible(ours_input.type, input_field.type):
                    problems.append(
                        f"{name}.{field_name} is {_render(ours_input.type)}, contract {_render(input_field.type)}"
                    )
            for extra in set(our_type.fields) - set(their_type.fields):
                if not _optional(our_type.fields[extra]):
                    problems.append(f"{name}.{extra} is required but not in the contract")
        elif isinstance(their_type, GraphQLEnumType):
            assert isinstance(our_type, GraphQLEnumType)
            problems += [
                f"{name}.{value} missing" for value in set(their_type.values) - set(our_type.values)
            ]
        elif isinstance(their_type, GraphQLUnionType):
            assert isinstance(our_type, GraphQLUnionType)
            missing = {t.name for t in their_type.types} - {t.name for t in our_type.types}
            problems += [f"{name} lacks member {member}" for member in sorted(missing)]
    for root in ("query_type", "mutation_type", "subscription_type"):
        their_root, our_root = getattr(theirs, root), getattr(ours, root)
        if their_root is not None and (our_root is None or our_root.name != their_root.name):
            problems.append(f"root {root} differs")
    return problems


@pytest.fixture(scope="module")
def contract() -> GraphQLSchema:
    """The shared contract; CI (``CI`` set, as ``.ci/run`` runs with shared/ beside the clone)
    must have it, so only a clone outside CI may skip."""
    if not CONTRACT.exists():
        if os.environ.get("CI"):
            pytest.fail(f"no contract at {CONTRACT}; CI checks the schema against it")
        pytest.skip(f"no contract at {CONTRACT} (outside CI)")
    return build_schema(CONTRACT.read_text())


def test_schema_keeps_every_contract_name(contract: GraphQLSchema) -> None:
    assert contract_problems(build_schema(sdl()), contract) == []


def test_the_check_catches_drift(contract: GraphQLSchema) -> None:
    broken = build_schema(
        sdl()
        .replace("  referenceId: String!\n  url: String", "  referenceId: String\n  url: String", 1)
        .replace("  IOU_GREEDY\n", "", 1)
    )
    problems = contract_problems(broken, contract)
    assert "Matching.IOU_GREEDY missing" in problems
    assert any(p.startswith("Item.referenceId is String") for p in problems)
