"""The item filter language (DESIGN.md §5), validated and compiled to parameterised SQL.

A filter is a plain dict using the GraphQL names, so a saved slice stores exactly what the
user sent and ``Slice.filter`` reads back as valid ``ItemFilter`` input::

    {"and": [...], "or": [...], "not": {...},
     "metadata": {"field": "weather.kind", "op": "EQ", "value": "rain"},
     "referenceIds": [...], "hasAnnotationLabel": [...], "hasPredictionLabel": [...]}

Semantics (identical on SQLite and PostgreSQL):

* The keys set in one object are ANDed; ``{}`` and ``and: []`` match every item, ``or: []``
  matches none.
* ``metadata.field`` is a dotted path of plain identifiers (``[A-Za-z_][A-Za-z0-9_]*``), at most
  ``SLICEBOARD_MAX_FILTER_PATH_SEGMENTS`` of them; it is bound as a parameter (a JSON path on
  SQLite, a text[] on PostgreSQL), never spliced into SQL.
* Values are exact: numbers finite, integers within signed 64 bits, strings valid Unicode without
  NUL. Anything else is refused at its field, so a filter's JSON form (a cache key) says exactly
  which items it selects.
* Comparisons are type-aware: a number only equals / orders against JSON numbers, a string
  against JSON strings (code-point order), a boolean against JSON booleans, ``null`` only
  equals JSON null. A missing field or a value of another type never matches EQ/IN/GT/...
* ``NE`` and ``NOT_IN`` are exactly ``not EQ`` / ``not IN``: they match missing fields too.
* ``IN``/``NOT_IN`` take a non-empty list of scalars (up to 10,000), bound as ONE parameter. ``GT GTE LT LTE`` take a number or a
  string. ``CONTAINS`` matches a string field containing the (string) value as a case-sensitive
  substring, or an array field with an element equal to the (scalar) value.
* ``EXISTS`` with ``true`` (the default) matches when the path is present, even holding null;
  ``false`` when it is absent.
* ``hasPredictionLabel`` looks at the predictions of the model run being queried; where there
  is none (``Dataset.items``, saved slices) it matches a prediction of any run on the item.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.sql.elements import ColumnElement

from sliceboard.clean_text import text_problem
from sliceboard.errors import InvalidInput, Issue
from sliceboard.input_limits import INT64_MAX, INT64_MIN, input_limits
from sliceboard.storage import tables

OPS = ("EQ", "NE", "IN", "NOT_IN", "GT", "GTE", "LT", "LTE", "CONTAINS", "EXISTS")
FILTER_KEYS = frozenset(
    {"and", "or", "not", "metadata", "referenceIds", "hasAnnotationLabel", "hasPredictionLabel"}
)
MAX_DEPTH = 16
MAX_NODES = 256
MAX_LIST = 10_000
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

Scalar = str | int | float | bool | None


# --- validation -------------------------------------------------------------------------------


def validate_item_filter(filter: dict[str, Any], path: str = "filter") -> None:
    """Raise InvalidInput listing every problem in ``filter`` (paths like ``filter.and[1].metadata.op``)."""
    issues: list[Issue] = []
    nodes = [0]
    _validate_node(filter, path, 1, issues, nodes)
    if nodes[0] > MAX_NODES:
        issues.append(Issue(path, f"a filter may hold at most {MAX_NODES} conditions"))
    if issues:
        raise InvalidInput(issues)


def _validate_node(
    node: object, path: str, depth: int, issues: list[Issue], nodes: list[int]
) -> None:
    nodes[0] += 1
    if not isinstance(node, dict):
        issues.append(Issue(path, "must be an object"))
        return
    if depth > MAX_DEPTH:
        issues.append(Issue(path, f"filters nest at most {MAX_DEPTH} levels deep"))
        return
    for key in sorted(set(node) - FILTER_KEYS):
        issues.append(Issue(f"{path}.{key}", "unknown filter key"))
    for key in ("and", "or"):
        children = node.get(key)
        if children is None:
            continue
        if not isinstance(children, list):
            issues.append(Issue(f"{path}.{key}", "must be a list of filters"))
            continue
        for index, child in enumerate(children):
            _validate_node(child, f"{path}.{key}[{index}]", depth + 1, issues, nodes)
    if node.get("not") is not None:
        _validate_node(node["not"], f"{path}.not", depth + 1, issues, nodes)
    for key in ("referenceIds", "hasAnnotationLabel", "hasPredictionLabel"):
        values = node.get(key)
        if values is None:
            continue
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            issues.append(Issue(f"{path}.{key}", "must be a list of strings"))
        elif len(values) > MAX_LIST:
            issues.append(Issue(f"{path}.{key}", f"at most {MAX_LIST} values"))
        else:
            _check_members(values, f"{path}.{key}", issues)
    if node.get("metadata") is not None:
        _validate_condition(node["metadata"], f"{path}.metadata", issues)


def _is_scalar(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _scalar_problem(value: object) -> str | None:
    """Why a scalar cannot be compared exactly (NaN, infinity, a huge integer, bad text)."""
    if type(value) is str and value.isascii() and "\x00" not in value:
        return None  # the common case, first
    if isinstance(value, str):
        return text_problem(value)
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
        return "integers must fit in signed 64 bits"
    if isinstance(value, float) and not math.isfinite(value):
        return "must be a finite number (not NaN or infinity)"
    return None


def _check_members(values: list[Any], path: str, issues: list[Issue]) -> None:
    for index, value in enumerate(values):
        problem = _scalar_problem(value)
        if problem is not None:
            issues.append(Issue(f"{path}[{index}]", problem))


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _validate_condition(condition: object, path: str, issues: list[Issue]) -> None:
    if not isinstance(condition, dict):
        issues.append(Issue(path, "must be an object {field, op, value}"))
        return
    for key in sorted(set(condition) - {"field", "op", "value"}):
        issues.append(Issue(f"{path}.{key}", "unknown key"))
    field = condition.get("field")
    segments = input_limits().filter_path_segments
    if not isinstance(field, str) or not all(_IDENT.fullmatch(part) for part in field.split(".")):
        issues.append(
            Issue(f"{path}.field", "must be a dotted path of identifiers like `camera.location`")
        )
    elif field.count(".") >= segments:
        issues.append(Issue(f"{path}.field", f"a path may have at most {segments} segments"))
    op = condition.get("op")
    if op not in OPS:
        issues.append(Issue(f"{path}.op", f"must be one of {', '.join(OPS)}"))
        return
    value = condition.get("value")
    problem = _value_problem(op, value)
    if problem:
        issues.append(Issue(f"{path}.value", problem))
    elif isinstance(value, list):
        _check_members(value, f"{path}.value", issues)
    else:
        problem = _scalar_problem(value)
        if problem:
            issues.append(Issue(f"{path}.value", problem))


def _value_problem(op: str, value: object) -> str | None:
    if op in ("EQ", "NE"):
        return None if _is_scalar(value) else f"{op} compares a string, number, boolean or null"
    if op in ("IN", "NOT_IN"):
        if not isinstance(value, list) or not value or not all(_is_scalar(v) for v in value):
            return f"{op} takes a non-empty list of strings, numbers, booleans or nulls"
        return f"at most {MAX_LIST} values" if len(value) > MAX_LIST else None
    if op in ("GT", "GTE", "LT", "LTE"):
        return (
            None
            if _is_number(value) or isinstance(value, str)
            else f"{op} compares a number or a string"
        )
    if op == "CONTAINS":
        return (
            None
            if _is_scalar(value) and value is not None
            else "CONTAINS takes a string, number or boolean"
        )
    return (
        None if value is None or isinstance(value, bool) else "EXISTS takes true, false or nothing"
    )


# --- compilation ------------------------------------------------------------------------------


def item_filter_clause(
    filter: dict[str, Any] | None, *, dataset_id: int, model_run_id: int | None, dialect: str
) -> ColumnElement[bool]:
    """A WHERE clause over ``tables.Item`` for the items of ``dataset_id`` matching ``filter``.

    ``filter`` must have passed ``validate_item_filter`` (this validates again, cheaply, so a
    stored filter that predates a rule change still fails loudly as InvalidInput).
    """
    if dialect not in ("sqlite", "postgresql"):
        raise ValueError(f"unsupported dialect {dialect!r}")
    in_dataset = _item_col("dataset_id") == dataset_id
    if not filter:
        return in_dataset
    validate_item_filter(filter)
    return sa.and_(in_dataset, _compile(filter, model_run_id, dialect))


def _item_col(name: str) -> sa.Column[Any]:
    return tables.Item.__table__.c[name]  # type: ignore[attr-defined,no-any-return]


def _compile(node: dict[str, Any], run: int | None, dialect: str) -> ColumnElement[bool]:
    parts: list[ColumnElement[bool]] = []
    if node.get("and") is not None:
        parts.append(sa.and_(sa.true(), *(_compile(c, run, dialect) for c in node["and"])))
    if node.get("or") is not None:
        parts.append(sa.or_(sa.false(), *(_compile(c, run, dialect) for c in node["or"])))
    if node.get("not") is not None:
        parts.append(sa.not_(_compile(node["not"], run, dialect)))
    if node.get("referenceIds") is not None:
        parts.append(_in_strings(_item_col("reference_id"), node["referenceIds"], dialect))
    if node.get("hasAnnotationLabel") is not None:
        parts.append(_has_label(tables.Annotation, node["hasAnnotationLabel"], None, dialect))
    if node.get("hasPredictionLabel") is not None:
        parts.append(_has_label(tables.Prediction, node["hasPredictionLabel"], run, dialect))
    if node.get("metadata") is not None:
        condition = node["metadata"]
        parts.append(
            _metadata(
                condition["field"].split("."), condition["op"], condition.get("value"), dialect
            )
        )
    return sa.and_(sa.true(), *parts)


def _in_strings(column: Any, values: list[str], dialect: str) -> ColumnElement[bool]:
    """``column IN values`` with ONE bound parameter, whatever the list's length."""
    if dialect == "postgresql":
        return column == sa.any_(sa.bindparam(None, values, type_=ARRAY(sa.String())))  # type: ignore[no-any-return]
    return column.in_(_json_members(values))  # type: ignore[no-any-return]


def _json_members(values: list[str] | list[float]) -> sa.Select[Any]:
    """SQLite: the members of ``values`` as a one-column subquery over ONE bound JSON array."""
    return sa.select(sa.column("value")).select_from(
        sa.func.json_each(sa.bindparam(None, json.dumps(values), type_=sa.String()))
    )


def _has_label(table: Any, labels: list[str], run: int | None, dialect: str) -> ColumnElement[bool]:
    target = table.__table__
    conditions = [target.c.item_id == _item_col("id"), _in_strings(target.c.label, labels, dialect)]
    if run is not None and table is tables.Prediction:
        conditions.append(target.c.model_run_id == run)
    return sa.exists(sa.select(sa.literal(1)).select_from(target).where(*conditions))


# --- metadata conditions ----------------------------------------------------------------------


def _metadata(keys: list[str], op: str, value: Any, dialect: str) -> ColumnElement[bool]:
    json_value = _SqliteJson(keys) if dialect == "sqlite" else _PgJson(keys)
    if op == "EXISTS":
        present = json_value.present()
        return present if value is not False else sa.not_(present)

    def equals(scalar: Scalar) -> ColumnElement[bool]:
        return _definite(json_value.equals(scalar))

    if op == "EQ":
        return equals(value)
    if op == "NE":
        return sa.not_(equals(value))
    if op == "IN":
        return _definite(json_value.one_of(value))
    if op == "NOT_IN":
        return sa.not_(_definite(json_value.one_of(value)))
    if op == "CONTAINS":
        return _definite(json_value.contains(value))
    return _definite(json_value.compare(op, value))


def _definite(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    """NULL (a missing field) becomes false, so ``not``/NE/NOT_IN are exact complements."""
    return sa.func.coalesce(condition, sa.false(), type_=sa.Boolean())  # type: ignore[no-any-return]


def _compare(left: Any, op: str, right: Any) -> ColumnElement[bool]:
    if op == "GT":
        return left > right  # type: ignore[no-any-return]
    if op == "GTE":
        return left >= right  # type: ignore[no-any-return]
    if op == "LT":
        return left < right  # type: ignore[no-any-return]
    return left <= right  # type: ignore[no-any-return]


class _SqliteJson:
    """One metadata path on SQLite: ``json_type``/``json_extract`` with the path bound."""

    def __init__(self, keys: list[str]) -> None:
        self.path = "$." + ".".join(keys)
        self.column = _item_col("metadata")

    def _type(self) -> Any:
        return sa.func.json_type(self.column, sa.bindparam(None, self.path, type_=sa.String()))

    def _extract(self) -> Any:
        return sa.func.json_extract(self.column, sa.bindparam(None, self.path, type_=sa.String()))

    def present(self) -> ColumnElement[bool]:
        return self._type().is_not(None)  # type: ignore[no-any-return]

    def equals(self, value: Scalar) -> ColumnElement[bool]:
        kind = self._type()
        if value is None:
            return kind == "null"  # type: ignore[no-any-return]
        if isinstance(value, bool):
            return kind == ("true" if value else "false")  # type: ignore[no-any-return]
        if isinstance(value, str):
            return sa.and_(
                kind == "text", self._extract() == sa.bindparam(None, value, type_=sa.String())
            )
        return sa.and_(
            kind.in_(("integer", "real")),
            self._extract() == sa.bindparam(None, float(value), type_=sa.Float()),
        )

    def one_of(self, values: list[Scalar]) -> ColumnElement[bool]:
        """``equals`` any of ``values``: each type's values bound as one JSON array, whatever
        the list's length (an OR per value overflows SQLite's expression tree at ~1,000)."""
        kind = self._type()
        parts: list[ColumnElement[bool]] = []
        strings = [v for v in values if isinstance(v, str)]
        numbers = [
            float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)
        ]
        if strings:
            parts.append(sa.and_(kind == "text", self._extract().in_(_json_members(strings))))
        if numbers:
            parts.append(
                sa.and_(kind.in_(("integer", "real")), self._extract().in_(_json_members(numbers)))
            )
        for constant, name in ((True, "true"), (False, "false"), (None, "null")):
            if any(v is constant for v in values):
                parts.append(kind == name)
        return sa.or_(*parts)

    def compare(self, op: str, value: str | float) -> ColumnElement[bool]:
        if isinstance(value, str):
            return sa.and_(
                self._type() == "text",
                _compare(self._extract(), op, sa.bindparam(None, value, type_=sa.String())),
            )
        return sa.and_(
            self._type().in_(("integer", "real")),
            _compare(self._extract(), op, sa.bindparam(None, float(value), type_=sa.Float())),
        )

    def contains(self, value: str | float | bool) -> ColumnElement[bool]:
        element = sa.func.json_each(
            self.column, sa.bindparam(None, self.path, type_=sa.String())
        ).table_valued("value", "type")
        if isinstance(value, bool):
            match = element.c.type == ("true" if value else "false")
        elif isinstance(value, str):
            match = sa.and_(
                element.c.type == "text",
                element.c.value == sa.bindparam(None, value, type_=sa.String()),
            )
        else:
            match = sa.and_(
                element.c.type.in_(("integer", "real")),
                element.c.value == sa.bindparam(None, float(value), type_=sa.Float()),
            )
        in_array = sa.and_(
            self._type() == "array",
            sa.exists(sa.select(sa.literal(1)).select_from(element).where(match)),
        )
        if not isinstance(value, str):
            return in_array
        substring = sa.and_(
            self._type() == "text",
            sa.func.instr(self._extract(), sa.bindparam(None, value, type_=sa.String())) > 0,
        )
        return sa.or_(substring, in_array)


class _PgJson:
    """One metadata path on PostgreSQL: ``jsonb_extract_path`` with each key bound."""

    def __init__(self, keys: list[str]) -> None:
        self.keys = keys
        self.column = _item_col("metadata")

    def _node(self) -> Any:
        args = [sa.bindparam(None, key, type_=sa.Text()) for key in self.keys]
        return sa.func.jsonb_extract_path(self.column, *args, type_=JSONB())

    def _text(self) -> Any:
        args = [sa.bindparam(None, key, type_=sa.Text()) for key in self.keys]
        return sa.func.jsonb_extract_path_text(self.column, *args, type_=sa.Text())

    def _type(self) -> Any:
        return sa.func.jsonb_typeof(self._node(), type_=sa.Text())

    def present(self) -> ColumnElement[bool]:
        return self._node().is_not(None)  # type: ignore[no-any-return]

    def equals(self, value: Scalar) -> ColumnElement[bool]:
        # jsonb equality is type-aware already: 1 = 1.0, "1" <> 1, true <> 1.
        literal = sa.cast(sa.bindparam(None, json.dumps(value), type_=sa.Text()), JSONB())
        return self._node() == literal  # type: ignore[no-any-return]

    def one_of(self, values: list[Scalar]) -> ColumnElement[bool]:
        """``equals`` any of ``values``, bound as one jsonb array (jsonb equality is type-aware)."""
        array = sa.cast(sa.bindparam(None, json.dumps(values), type_=sa.Text()), JSONB())
        members = sa.select(sa.func.jsonb_array_elements(array, type_=JSONB()))
        return self._node().in_(members)  # type: ignore[no-any-return]

    def compare(self, op: str, value: str | float) -> ColumnElement[bool]:
        # CASE guards the cast: AND does not promise to evaluate its left side first.
        if isinstance(value, str):
            text = sa.case((self._type() == "string", self._text()), else_=sa.null()).collate("C")
            return _compare(text, op, sa.bindparam(None, value, type_=sa.Text()))
        number = sa.case(
            (self._type() == "number", sa.cast(self._text(), sa.Numeric())), else_=sa.null()
        )
        right = sa.cast(sa.bindparam(None, repr(float(value)), type_=sa.Text()), sa.Numeric())
        return _compare(number, op, right)

    def contains(self, value: str | float | bool) -> ColumnElement[bool]:
        element = sa.cast(sa.bindparam(None, json.dumps([value]), type_=sa.Text()), JSONB())
        in_array = sa.and_(self._type() == "array", self._node().op("@>")(element))
        if not isinstance(value, str):
            return in_array
        substring = sa.and_(
            self._type() == "string",
            sa.func.strpos(self._text(), sa.bindparam(None, value, type_=sa.Text())) > 0,
        )
        return sa.or_(substring, in_array)
