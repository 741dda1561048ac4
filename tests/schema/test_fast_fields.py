"""Inline completion (schema/fast_fields.py) answers exactly what strawberry's own path answers:
the same data, the same errors at the same paths, the same key order."""

from __future__ import annotations

import asyncio
import json
from enum import Enum
from typing import Annotated, Any

import pytest
import strawberry

from sliceboard.schema import fast_fields
from sliceboard.schema.fast_fields import FastFieldsExecutionContext, plan_of
from sliceboard.schema.upload_hooks import graphql_core_schema


@strawberry.enum
class Colour(Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.type
class Corner:
    x: float
    y: float


@strawberry.type
class Square:
    side: float
    corners: list[Corner]


@strawberry.type
class Circle:
    r: float


Shape = Annotated[Square | Circle, strawberry.union("Shape")]


@strawberry.interface
class Named:
    name: str


@strawberry.type
class Pet(Named):
    legs: int


@strawberry.type
class Thing:
    row: strawberry.Private[dict[str, Any]]

    @strawberry.field
    def label(self) -> str:
        return str(self.row["label"])

    @strawberry.field
    def colour(self) -> Colour:
        return Colour.RED if self.row["n"] % 2 else Colour.BLUE

    @strawberry.field
    def shape(self) -> Shape | None:
        n = self.row["n"]
        if n % 3 == 0:
            return None
        if n % 3 == 1:
            return Circle(r=n / 2)
        return Square(side=n, corners=[Corner(x=i, y=-i) for i in range(n % 4)])

    @strawberry.field
    def must(self) -> str:
        return None if self.row["n"] == 4 else "ok"  # type: ignore[return-value]

    @strawberry.field
    def boom(self) -> int | None:
        if self.row["n"] == 5:
            raise ValueError("boom")
        return int(self.row["n"])

    @strawberry.field
    def odd(self) -> int | None:
        return "not an int" if self.row["n"] == 6 else 7  # type: ignore[return-value]

    @strawberry.field
    def tags(self) -> list[str]:
        return [f"t{i}" for i in range(self.row["n"] % 3)]

    @strawberry.field
    def friend(self) -> Named | None:
        return Pet(name="rex", legs=4) if self.row["n"] % 2 else None

    @strawberry.field
    def echo(self, times: int) -> int:
        return int(self.row["n"]) * times

    @strawberry.field
    async def later(self) -> str:
        await asyncio.sleep(0)
        return f"later{self.row['n']}"

    @strawberry.field
    def strict_corners(self) -> list[Corner]:
        # A list whose element is not a Corner: graphql-core reports it, inline gives up.
        return [Corner(x=1, y=1), None] if self.row["n"] == 7 else []  # type: ignore[list-item]


@strawberry.type
class Query:
    @strawberry.field
    def things(self) -> list[Thing]:
        return [Thing(row={"label": f"thing{n}", "n": n}) for n in range(9)]


def _schemas() -> tuple[strawberry.Schema, strawberry.Schema]:
    plain = strawberry.Schema(query=Query, types=[Pet])
    fast = strawberry.Schema(
        query=Query, types=[Pet], execution_context_class=FastFieldsExecutionContext
    )
    fast_fields.install(fast)
    return plain, fast


DOCUMENTS = [
    "{ things { label colour tags } }",
    "{ things { a: label b: label colour __typename } }",
    "{ things { shape { __typename ... on Circle { r } ... on Square { side corners { x y } } } } }",
    "{ things { shape { ... on Square { s: side corners { y x __typename } } } } }",
    "fragment S on Square { side corners { x } } { things { label shape { ...S } } }",
    "{ things { must } }",
    "{ things { label boom odd } }",
    "{ things { friend { name ... on Pet { legs } } } }",
    "{ things { echo(times: 3) label later } }",
    "{ things { strictCorners { x } } }",
    "query($skip: Boolean!) { things { label @skip(if: $skip) colour @include(if: $skip) } }",
    "query($skip: Boolean!) { things { shape { ... on Circle { r @skip(if: $skip) } } } }",
]


@pytest.mark.parametrize("document", DOCUMENTS)
@pytest.mark.parametrize("skip", [True, False])
async def test_same_answer_as_strawberry(document: str, skip: bool) -> None:
    plain, fast = _schemas()
    variables = {"skip": skip} if "$skip" in document else None
    expected = await plain.execute(document, variable_values=variables)
    got = await fast.execute(document, variable_values=variables)
    # json.dumps keeps key order: the response must list keys as graphql-core does.
    assert json.dumps(got.data) == json.dumps(expected.data)
    assert [(e.message, e.path) for e in got.errors or []] == [
        (e.message, e.path) for e in expected.errors or []
    ]


def test_plan_takes_only_fields_that_read_their_object() -> None:
    _, fast = _schemas()
    plan = plan_of(graphql_core_schema(fast))
    thing = set(plan.fields["Thing"])
    # echo has an argument, later is async: strawberry resolves them as before.
    assert thing == {
        "label",
        "colour",
        "shape",
        "must",
        "boom",
        "odd",
        "tags",
        "friend",
        "strictCorners",
    }
    assert set(plan.fields["Corner"]) == {"x", "y"}
    assert "Query" not in plan.fields


@pytest.mark.parametrize(
    ("document", "path"),
    [
        ("{ things { label must } }", ("things", 4, "must")),
        ("{ things { label strictCorners { x } } }", ("things", 7, "strictCorners", 1)),
        ("{ things { boom } }", ("things", 5, "boom")),
    ],
)
async def test_errors_inside_an_inline_tree_fall_back_with_their_path(
    document: str, path: tuple[Any, ...]
) -> None:
    _, fast = _schemas()
    result = await fast.execute(document)
    assert [tuple(e.path or ()) for e in result.errors or []] == [path]
