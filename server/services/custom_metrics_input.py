"""Validation of an uploadCustomMetrics batch, row by row, into storable rows.

Rules (documented for users in the service module):
- exactly one of ``value``, ``valuesByConfidence`` (2..15 pairs, distinct confidences in
  [0, 1]) and ``confusion`` (tp, fp, tn, fn: integers in 0..1e8);
- values are finite with |value| <= 1e8; GEOMETRIC_MEAN needs value >= 0, HARMONIC_MEAN > 0;
- ``subclassName`` needs ``featureName``; names are 1..255 characters;
- a confusion matrix always aggregates by SUM (its ``aggregation`` argument is not used);
- one metric name has one shape (kind and aggregation) in the whole batch.
Checks that need the database (referenceIds, shapes already stored) live in the service.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

from sliceboard.errors import Issue
from sliceboard.evaluation.aggregation import Aggregation

MAX_ABS_VALUE = 1e8
MAX_COUNT = 100_000_000
MIN_CONFIDENCE_KEYS, MAX_CONFIDENCE_KEYS = 2, 15
NAME_MAX, REFERENCE_ID_MAX = 255, 512


@dataclass(frozen=True)
class MetricRow:
    """One valid input row, keyed like the table (``""`` = no feature / nested feature)."""

    index: int
    reference_id: str
    feature_name: str
    subclass_name: str
    name: str
    kind: str  # SCALAR | CONFUSION (storage kinds)
    aggregation: Aggregation
    value: float | None
    by_confidence: list[list[float]] | None
    counts: tuple[int, int, int, int] | None

    @property
    def shape(self) -> tuple[str, str, bool]:
        """What must agree across one metric name: kind, aggregation, by-confidence or not."""
        return (self.kind, self.aggregation.value, self.by_confidence is not None)

    def stored_fields(self) -> dict[str, Any]:
        tp, fp, tn, fn = self.counts if self.counts is not None else (None, None, None, None)
        return {
            "kind": self.kind,
            "aggregation": self.aggregation.value,
            "value": self.value,
            "by_confidence": self.by_confidence,
            "tp": tp,
            "fp": fp,
            "tn": tn,
            "fn": fn,
        }


def describe_shape(shape: tuple[str, str, bool]) -> str:
    kind, aggregation, by_confidence = shape
    if kind == "CONFUSION":
        return "a confusion matrix"
    return f"{'a valuesByConfidence' if by_confidence else 'a scalar'} metric with {aggregation}"


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _text(raw: object, path: str, issues: list[Issue], max_length: int) -> str | None:
    if not isinstance(raw, str):
        issues.append(Issue(path, "must be a string"))
    elif not raw or raw.isspace():
        issues.append(Issue(path, "must not be empty"))
    elif len(raw) > max_length:
        issues.append(Issue(path, f"must be at most {max_length} characters"))
    else:
        return raw
    return None


def _value(raw: object, path: str, aggregation: Aggregation, issues: list[Issue]) -> float | None:
    if not _is_number(raw):
        issues.append(Issue(path, "must be a number"))
        return None
    number = float(raw)
    if not math.isfinite(number):
        issues.append(Issue(path, "must be a finite number"))
    elif abs(number) > MAX_ABS_VALUE:
        issues.append(Issue(path, "must be between -1e8 and 1e8"))
    elif aggregation is Aggregation.GEOMETRIC_MEAN and number < 0:
        issues.append(Issue(path, "must not be negative with GEOMETRIC_MEAN"))
    elif aggregation is Aggregation.HARMONIC_MEAN and number <= 0:
        issues.append(Issue(path, "must be greater than 0 with HARMONIC_MEAN"))
    else:
        return number
    return None


def _aggregation(raw: object, path: str, issues: list[Issue]) -> Aggregation | None:
    if raw is None:
        return Aggregation.ARITHMETIC_MEAN
    text = getattr(raw, "value", raw)
    try:
        return Aggregation(text)
    except ValueError:
        issues.append(Issue(path, f"must be one of {', '.join(a.value for a in Aggregation)}"))
        return None


def _by_confidence(
    raw: object, path: str, aggregation: Aggregation, issues: list[Issue]
) -> list[list[float]] | None:
    if not isinstance(raw, list):
        issues.append(Issue(path, "must be a list"))
        return None
    if not MIN_CONFIDENCE_KEYS <= len(raw) <= MAX_CONFIDENCE_KEYS:
        issues.append(
            Issue(
                path,
                f"must hold {MIN_CONFIDENCE_KEYS} to {MAX_CONFIDENCE_KEYS} pairs, not {len(raw)}",
            )
        )
        return None
    before = len(issues)
    pairs: list[list[float]] = []
    seen: dict[float, int] = {}
    for j, pair in enumerate(raw):
        where = f"{path}[{j}]"
        pair = pair if isinstance(pair, Mapping) else {}
        confidence = pair.get("confidence")
        if not _is_number(confidence) or not 0.0 <= float(confidence) <= 1.0:
            issues.append(Issue(f"{where}.confidence", "must be a number between 0 and 1"))
        elif float(confidence) in seen:
            issues.append(
                Issue(
                    f"{where}.confidence",
                    f"repeats the confidence of {path}[{seen[float(confidence)]}]",
                )
            )
        else:
            seen[float(confidence)] = j
        value = _value(pair.get("value"), f"{where}.value", aggregation, issues)
        if value is not None and _is_number(confidence):
            pairs.append([float(confidence), value])
    return sorted(pairs) if len(issues) == before else None


def _counts(raw: object, path: str, issues: list[Issue]) -> tuple[int, int, int, int] | None:
    raw = raw if isinstance(raw, Mapping) else {}
    out: list[int] = []
    for key in ("tp", "fp", "tn", "fn"):
        count = raw.get(key)
        if type(count) is not int or not 0 <= count <= MAX_COUNT:
            issues.append(Issue(f"{path}.{key}", f"must be an integer between 0 and {MAX_COUNT}"))
        else:
            out.append(count)
    return (out[0], out[1], out[2], out[3]) if len(out) == 4 else None


def validate_row(index: int, raw: Mapping[str, Any], issues: list[Issue]) -> MetricRow | None:
    """The storable row of ``metrics[index]``, or None after recording its issues."""
    path = f"metrics[{index}]"
    before = len(issues)
    name = _text(raw.get("name"), f"{path}.name", issues, NAME_MAX)
    reference_id = _text(raw.get("reference_id"), f"{path}.referenceId", issues, REFERENCE_ID_MAX)
    feature = raw.get("feature_name")
    subclass = raw.get("subclass_name")
    if feature is not None:
        feature = _text(feature, f"{path}.featureName", issues, NAME_MAX)
    if subclass is not None:
        if raw.get("feature_name") is None:
            issues.append(
                Issue(
                    f"{path}.subclassName",
                    "needs a featureName (a nested feature belongs to a feature)",
                )
            )
        subclass = _text(subclass, f"{path}.subclassName", issues, NAME_MAX)
    aggregation = _aggregation(raw.get("aggregation"), f"{path}.aggregation", issues)
    given = [k for k in ("value", "values_by_confidence", "confusion") if raw.get(k) is not None]
    value: float | None = None
    by_conf: list[list[float]] | None = None
    counts: tuple[int, int, int, int] | None = None
    if not given:
        issues.append(Issue(path, "needs one of value, valuesByConfidence or confusion"))
    elif len(given) > 1:
        camel = {
            "value": "value",
            "values_by_confidence": "valuesByConfidence",
            "confusion": "confusion",
        }
        issues.append(
            Issue(
                f"{path}.{camel[given[1]]}",
                f"give only one of {' and '.join(camel[g] for g in given)}",
            )
        )
    elif aggregation is not None:
        if given[0] == "value":
            value = _value(raw["value"], f"{path}.value", aggregation, issues)
        elif given[0] == "values_by_confidence":
            by_conf = _by_confidence(
                raw["values_by_confidence"], f"{path}.valuesByConfidence", aggregation, issues
            )
        else:
            counts = _counts(raw["confusion"], f"{path}.confusion", issues)
    if len(issues) > before or name is None or reference_id is None or aggregation is None:
        return None
    is_confusion = counts is not None
    return MetricRow(
        index=index,
        reference_id=reference_id,
        feature_name=feature or "",
        subclass_name=subclass or "",
        name=name,
        kind="CONFUSION" if is_confusion else "SCALAR",
        aggregation=Aggregation.SUM if is_confusion else aggregation,
        value=value,
        by_confidence=by_conf,
        counts=counts,
    )


def shape_path(row: MetricRow) -> str:
    """The field that decides a row's shape, for issues about mixed shapes."""
    field = "confusion" if row.counts is not None else "aggregation"
    return f"metrics[{row.index}].{field}"


def check_batch_shapes(rows: list[MetricRow], issues: list[Issue]) -> dict[str, MetricRow]:
    """One shape per name and one row per key inside the batch; returns each name's first row."""
    first: dict[str, MetricRow] = {}
    keys: dict[tuple[str, str, str, str], int] = {}
    for row in rows:
        leader = first.setdefault(row.name, row)
        if leader.shape != row.shape:
            issues.append(
                Issue(
                    shape_path(row),
                    f"metric {row.name!r} is {describe_shape(leader.shape)} in metrics[{leader.index}]; "
                    "one metric name has one aggregation and kind",
                )
            )
        key = (row.reference_id, row.feature_name, row.subclass_name, row.name)
        if key in keys:
            issues.append(
                Issue(
                    f"metrics[{row.index}]",
                    f"same referenceId, featureName, subclassName and name as metrics[{keys[key]}]",
                )
            )
        else:
            keys[key] = row.index
    return first
