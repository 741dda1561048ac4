"""The item filter language: every operator, on SQLite and PostgreSQL, with the same expectations."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sliceboard.errors import InvalidInput
from sliceboard.storage import tables
from sliceboard.storage.db import read_session, transaction
from sliceboard.storage.filters import item_filter_clause, validate_item_filter
from sliceboard.storage.reads import select_item_ids

METADATA: dict[str, dict[str, Any] | None] = {
    "r0": {
        "weather": "rain",
        "n": 5,
        "flag": True,
        "tags": ["a", "b"],
        "cam": {"loc": "front"},
        "nul": None,
    },
    "r1": {"weather": "sunny", "n": 10.5, "flag": False, "tags": ["b", 3], "cam": {"loc": "back"}},
    "r2": {"weather": "rainy day", "n": "5", "tags": "abc"},
    "r3": {},
    "r4": None,
    "r5": {"n": 1e3, "weather": "Rain", "quote": 'it\'s "x" %_'},
}


class World:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self.dataset_id = 0
        self.other_dataset_id = 0
        self.run_ids: list[int] = []
        self.refs: dict[int, str] = {}

    async def build(self) -> None:
        async with transaction(self.sessions) as session:
            dataset, other = tables.Dataset(name="d"), tables.Dataset(name="other")
            model = tables.Model(name="m", reference_id="m")
            session.add_all([dataset, other, model])
            await session.flush()
            assert dataset.id and other.id and model.id
            self.dataset_id, self.other_dataset_id = dataset.id, other.id
            items = {
                ref: tables.Item(dataset_id=dataset.id, reference_id=ref, metadata_=meta)
                for ref, meta in METADATA.items()
            }
            # Same referenceId and metadata in another dataset: must never leak in.
            session.add(
                tables.Item(dataset_id=other.id, reference_id="r0", metadata_=METADATA["r0"])
            )
            session.add_all(items.values())
            runs = [
                tables.ModelRun(model_id=model.id, dataset_id=dataset.id, name=n)
                for n in ("a", "b")
            ]
            session.add_all(runs)
            await session.flush()
            self.refs = {int(item.id or 0): ref for ref, item in items.items()}
            item_pk = {ref: int(item.id or 0) for ref, item in items.items()}
            dataset_pk = self.dataset_id
            self.run_ids = [int(run.id or 0) for run in runs]

            def annotation(ref: str, key: str, label: str) -> tables.Annotation:
                return tables.Annotation(
                    dataset_id=dataset_pk,
                    item_id=item_pk[ref],
                    annotation_id=key,
                    label=label,
                    type="CATEGORY",
                )

            def prediction(ref: str, run: int, label: str) -> tables.Prediction:
                return tables.Prediction(
                    model_run_id=run,
                    item_id=item_pk[ref],
                    annotation_id=label,
                    label=label,
                    type="CATEGORY",
                )

            session.add_all(
                [
                    annotation("r0", "1", "car"),
                    annotation("r1", "1", "person"),
                    annotation("r1", "2", "car"),
                ]
            )
            session.add_all(
                [prediction("r2", self.run_ids[0], "car"), prediction("r3", self.run_ids[1], "car")]
            )

    async def select(self, filter: dict[str, Any] | None, run: int | None = None) -> list[str]:
        async with read_session(self.sessions) as session:
            dialect = session.get_bind().dialect.name
            where = item_filter_clause(
                filter, dataset_id=self.dataset_id, model_run_id=run, dialect=dialect
            )
            ids = await select_item_ids(session=session, where=where)
        return sorted(self.refs[i] for i in ids)


@pytest.fixture
async def world(sessions: async_sessionmaker[AsyncSession]) -> World:
    built = World(sessions)
    await built.build()
    return built


def meta(field: str, op: str, value: Any = None) -> dict[str, Any]:
    condition: dict[str, Any] = {"field": field, "op": op}
    if value is not None or op in ("EQ", "NE"):
        condition["value"] = value
    return {"metadata": condition}


ALL = ["r0", "r1", "r2", "r3", "r4", "r5"]

CASES: list[tuple[str, dict[str, Any] | None, list[str]]] = [
    ("no filter", None, ALL),
    ("empty filter", {}, ALL),
    ("EQ string", meta("weather", "EQ", "rain"), ["r0"]),
    ("EQ number is not a numeric string", meta("n", "EQ", 5), ["r0"]),
    ("EQ numeric string is not a number", meta("n", "EQ", "5"), ["r2"]),
    ("EQ float equals int", meta("n", "EQ", 5.0), ["r0"]),
    ("EQ true", meta("flag", "EQ", True), ["r0"]),
    ("EQ false", meta("flag", "EQ", False), ["r1"]),
    ("EQ null matches JSON null only", meta("nul", "EQ", None), ["r0"]),
    ("EQ nested path", meta("cam.loc", "EQ", "front"), ["r0"]),
    ("EQ with quotes and wildcards", meta("quote", "EQ", 'it\'s "x" %_'), ["r5"]),
    ("NE includes missing", meta("weather", "NE", "rain"), ["r1", "r2", "r3", "r4", "r5"]),
    ("NE number", meta("n", "NE", 5), ["r1", "r2", "r3", "r4", "r5"]),
    ("IN strings", meta("weather", "IN", ["rain", "sunny"]), ["r0", "r1"]),
    ("IN mixed types", meta("n", "IN", [5, "5"]), ["r0", "r2"]),
    (
        "NOT_IN includes missing",
        meta("weather", "NOT_IN", ["rain", "sunny"]),
        ["r2", "r3", "r4", "r5"],
    ),
    ("GT number", meta("n", "GT", 5), ["r1", "r5"]),
    ("GTE number", meta("n", "GTE", 5), ["r0", "r1", "r5"]),
    ("LT number", meta("n", "LT", 10.5), ["r0"]),
    ("LTE number", meta("n", "LTE", 10.5), ["r0", "r1"]),
    ("GT string is code-point order", meta("weather", "GT", "rain"), ["r1", "r2"]),
    ("LT string: uppercase sorts first", meta("weather", "LT", "rain"), ["r5"]),
    ("LTE string", meta("weather", "LTE", "rain"), ["r0", "r5"]),
    ("GT on a non-number field", meta("weather", "GT", 1), []),
    ("CONTAINS substring is case-sensitive", meta("weather", "CONTAINS", "rain"), ["r0", "r2"]),
    ("CONTAINS array element or substring", meta("tags", "CONTAINS", "b"), ["r0", "r1", "r2"]),
    ("CONTAINS number element", meta("tags", "CONTAINS", 3), ["r1"]),
    ("CONTAINS number is not a substring", meta("weather", "CONTAINS", 5), []),
    ("CONTAINS on a boolean", meta("flag", "CONTAINS", True), []),
    ("EXISTS", meta("cam.loc", "EXISTS"), ["r0", "r1"]),
    ("EXISTS true holds for null", meta("nul", "EXISTS", True), ["r0"]),
    ("EXISTS false", meta("weather", "EXISTS", False), ["r3", "r4"]),
    ("EXISTS on an object", meta("cam", "EXISTS", True), ["r0", "r1"]),
    ("referenceIds", {"referenceIds": ["r1", "r3", "nope"]}, ["r1", "r3"]),
    ("referenceIds empty", {"referenceIds": []}, []),
    ("hasAnnotationLabel", {"hasAnnotationLabel": ["car"]}, ["r0", "r1"]),
    ("hasAnnotationLabel any of", {"hasAnnotationLabel": ["person", "dog"]}, ["r1"]),
    ("hasPredictionLabel without a run: any run", {"hasPredictionLabel": ["car"]}, ["r2", "r3"]),
    ("and", {"and": [meta("n", "GTE", 5), meta("flag", "EQ", True)]}, ["r0"]),
    ("and empty matches all", {"and": []}, ALL),
    ("or", {"or": [meta("weather", "EQ", "rain"), {"referenceIds": ["r4"]}]}, ["r0", "r4"]),
    ("or empty matches none", {"or": []}, []),
    ("not", {"not": meta("weather", "EQ", "rain")}, ["r1", "r2", "r3", "r4", "r5"]),
    ("not of GT includes missing", {"not": meta("n", "GT", 5)}, ["r0", "r2", "r3", "r4"]),
    (
        "keys of one object are ANDed",
        {
            "referenceIds": ["r0", "r1"],
            "hasAnnotationLabel": ["person"],
            "not": {"referenceIds": ["r0"]},
        },
        ["r1"],
    ),
    (
        "nested",
        {
            "or": [
                {"and": [meta("cam.loc", "EXISTS"), {"not": meta("flag", "EQ", True)}]},
                meta("n", "EQ", 1000),
            ]
        },
        ["r1", "r5"],
    ),
]


async def test_every_operator(world: World) -> None:
    """All cases against one database per backend (building it per case would cost ~100 setups)."""
    wrong: dict[str, tuple[list[str], list[str]]] = {}
    for name, filter, expected in CASES:
        if filter:
            validate_item_filter(filter)
        got = await world.select(filter)
        if got != expected:
            wrong[name] = (got, expected)
    assert wrong == {}, "case: (got, expected)"


async def test_has_prediction_label_in_the_queried_run(world: World) -> None:
    first, second = world.run_ids
    assert await world.select({"hasPredictionLabel": ["car"]}, run=first) == ["r2"]
    assert await world.select({"hasPredictionLabel": ["car"]}, run=second) == ["r3"]


@pytest.mark.parametrize(
    ("filter", "path"),
    [
        (
            {"metadata": {"field": "a'); DROP TABLE item; --", "op": "EQ", "value": 1}},
            "filter.metadata.field",
        ),
        ({"metadata": {"field": "a..b", "op": "EQ", "value": 1}}, "filter.metadata.field"),
        ({"metadata": {"field": "$.a", "op": "EQ", "value": 1}}, "filter.metadata.field"),
        ({"metadata": {"field": "a[0]", "op": "EQ", "value": 1}}, "filter.metadata.field"),
        ({"metadata": {"field": "1a", "op": "EQ", "value": 1}}, "filter.metadata.field"),
        ({"metadata": {"field": "a", "op": "LIKE", "value": 1}}, "filter.metadata.op"),
        ({"metadata": {"field": "a", "op": "EQ", "value": [1]}}, "filter.metadata.value"),
        ({"metadata": {"field": "a", "op": "IN", "value": []}}, "filter.metadata.value"),
        ({"metadata": {"field": "a", "op": "IN", "value": "x"}}, "filter.metadata.value"),
        ({"metadata": {"field": "a", "op": "GT", "value": True}}, "filter.metadata.value"),
        ({"metadata": {"field": "a", "op": "GT", "value": None}}, "filter.metadata.value"),
        (
            {"metadata": {"field": "a", "op": "CONTAINS", "value": {"k": 1}}},
            "filter.metadata.value",
        ),
        ({"metadata": {"field": "a", "op": "EXISTS", "value": 1}}, "filter.metadata.value"),
        ({"and": [{}, {"referenceIds": [1]}]}, "filter.and[1].referenceIds"),
        ({"not": {"bogus": 1}}, "filter.not.bogus"),
        ({"or": "x"}, "filter.or"),
    ],
)
def test_invalid_filters_name_the_field(filter: dict[str, Any], path: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        validate_item_filter(filter)
    assert path in [issue.path for issue in raised.value.issues]


def test_every_issue_is_reported_at_once() -> None:
    with pytest.raises(InvalidInput) as raised:
        validate_item_filter(
            {
                "and": [
                    {"metadata": {"field": "1", "op": "EQ"}},
                    {"metadata": {"field": "a", "op": "NOPE"}},
                ]
            },
            "input.filter",
        )
    assert [i.path for i in raised.value.issues] == [
        "input.filter.and[0].metadata.field",
        "input.filter.and[1].metadata.op",
    ]


def test_nesting_is_bounded() -> None:
    deep: dict[str, Any] = {}
    for _ in range(40):
        deep = {"not": deep}
    with pytest.raises(InvalidInput, match="nest at most"):
        validate_item_filter(deep)
    with pytest.raises(InvalidInput, match="at most 256 conditions"):
        validate_item_filter({"or": [{"referenceIds": ["a"]}] * 300})


def test_field_is_bound_not_spliced() -> None:
    clause = item_filter_clause(
        meta("camera.location", "EQ", "x"), dataset_id=1, model_run_id=None, dialect="sqlite"
    )
    sql = str(clause.compile())
    assert "camera" not in sql and "location" not in sql
    pg = item_filter_clause(
        meta("camera.location", "GT", "x"), dataset_id=1, model_run_id=None, dialect="postgresql"
    )
    assert "camera" not in str(pg.compile())
