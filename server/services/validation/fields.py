"""Checks shared by every row: names, numbers, JSON metadata and the prediction extras.

Each check takes the raw value, the issue path and the collector; it returns the normalised
value (floats as ``float``) or None after recording an issue. Plain Python on purpose: this
runs once per row of every upload, where a model class per row would dominate the cost.
"""

from __future__ import annotations

import math
from typing import Any

from sliceboard.services.validation.issues import Issues

REFERENCE_ID_MAX = 512
LABEL_MAX = 255
URL_MAX = 2048
CLASS_PDF_TOLERANCE = 1e-3
_NUMBER_TYPES = (int, float)


def is_number(value: object) -> bool:
    """An int or float, but not a bool (JSON true is no coordinate)."""
    return isinstance(value, _NUMBER_TYPES) and not isinstance(value, bool)


def check_text(value: object, path: str, issues: Issues, *, max_length: int) -> str | None:
    """A non-empty string of at most ``max_length`` characters."""
    if type(value) is str and 0 < len(value) <= max_length and not value.isspace():
        return value
    if not isinstance(value, str):
        issues.add(path, "must be a string")
    elif not value or value.isspace():
        issues.add(path, "must not be empty")
    else:
        issues.add(path, f"must be at most {max_length} characters")
    return None


def check_float(value: object, path: str, issues: Issues) -> float | None:
    """A finite number, as float."""
    if is_number(value):
        number = float(value)  # type: ignore[arg-type]
        if math.isfinite(number):
            return number
        issues.add(path, "must be a finite number")
        return None
    issues.add(path, "must be a number")
    return None


def check_positive(value: object, path: str, issues: Issues) -> float | None:
    number = check_float(value, path, issues)
    if number is not None and number <= 0:
        issues.add(path, "must be greater than 0")
        return None
    return number


def check_optional_positive_int(value: object, path: str, issues: Issues) -> int | None:
    if value is None:
        return None
    if type(value) is not int:
        issues.add(path, "must be an integer")
        return None
    if value <= 0:
        issues.add(path, "must be greater than 0")
        return None
    return value


def _non_finite_path(value: object, path: str) -> str | None:
    """The path of the first NaN/infinite number inside a JSON value (iterative: no depth limit)."""
    stack: list[tuple[object, str]] = [(value, path)]
    while stack:
        current, where = stack.pop()
        if isinstance(current, float):
            if not math.isfinite(current):
                return where
        elif isinstance(current, dict):
            stack.extend((child, f"{where}.{key}") for key, child in current.items())
        elif isinstance(current, list):
            stack.extend((child, f"{where}[{i}]") for i, child in enumerate(current))
    return None


def check_metadata(value: object, path: str, issues: Issues) -> dict[str, Any] | None:
    """None or a JSON object whose numbers are all finite (NaN cannot be stored as JSON)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        issues.add(path, "must be a JSON object")
        return None
    if value:
        bad = _non_finite_path(value, path)
        if bad is not None:
            issues.add(bad, "must be a finite number")
            return None
    return value


def check_area(value: object, path: str, issues: Issues) -> float | None:
    if value is None:
        return None
    number = check_float(value, path, issues)
    if number is not None and number < 0:
        issues.add(path, "must not be negative")
        return None
    return number


def check_confidence(value: object, path: str, issues: Issues) -> float | None:
    """None (the evaluation then ranks the prediction as confidence 1.0) or a number in [0, 1]."""
    if value is None:
        return None
    number = check_float(value, path, issues)
    if number is not None and not 0.0 <= number <= 1.0:
        issues.add(path, "must be between 0 and 1")
        return None
    return number


def check_class_pdf(value: object, path: str, issues: Issues) -> dict[str, float] | None:
    """None or ``{label: probability}``: non-negative, finite, summing to 1 within 1e-3."""
    if value is None:
        return None
    if not isinstance(value, dict) or not value:
        issues.add(path, "must be a non-empty JSON object of label -> probability")
        return None
    pdf: dict[str, float] = {}
    before = len(issues)
    for label, probability in value.items():
        where = f"{path}.{label}"
        if not isinstance(label, str) or not label:
            issues.add(path, "labels must be non-empty strings")
            continue
        number = check_float(probability, where, issues)
        if number is not None and number < 0:
            issues.add(where, "must not be negative")
        elif number is not None:
            pdf[label] = number
    if len(issues) > before:
        return None
    total = math.fsum(pdf.values())
    if abs(total - 1.0) > CLASS_PDF_TOLERANCE:
        issues.add(path, f"probabilities must sum to 1 (got {total:.6g})")
        return None
    return pdf


def check_custom_metrics(value: object, path: str, issues: Issues) -> list[dict[str, Any]] | None:
    """None or ``[{name, value}]`` with distinct names and finite values."""
    if value is None:
        return None
    if not isinstance(value, list):
        issues.add(path, "must be a list of {name, value}")
        return None
    metrics: list[dict[str, Any]] = []
    seen: set[str] = set()
    before = len(issues)
    for i, entry in enumerate(value):
        where = f"{path}[{i}]"
        if not isinstance(entry, dict):
            issues.add(where, "must be an object {name, value}")
            continue
        name = check_text(entry.get("name"), f"{where}.name", issues, max_length=LABEL_MAX)
        number = check_float(entry.get("value"), f"{where}.value", issues)
        if name is not None and name in seen:
            issues.add(f"{where}.name", f"duplicate metric name {name!r} in this prediction")
            continue
        if name is not None:
            seen.add(name)
            if number is not None:
                metrics.append({"name": name, "value": number})
    return metrics if len(issues) == before else None


def check_classifications(value: object, path: str, issues: Issues) -> list[dict[str, str]] | None:
    """None or nested features ``[{name, value}]`` (e.g. color = orange), both non-empty strings."""
    if value is None:
        return None
    if not isinstance(value, list):
        issues.add(path, "must be a list of {name, value}")
        return None
    out: list[dict[str, str]] = []
    before = len(issues)
    for i, entry in enumerate(value):
        where = f"{path}[{i}]"
        if not isinstance(entry, dict):
            issues.add(where, "must be an object {name, value}")
            continue
        name = check_text(entry.get("name"), f"{where}.name", issues, max_length=LABEL_MAX)
        text = check_text(entry.get("value"), f"{where}.value", issues, max_length=LABEL_MAX)
        if name is not None and text is not None:
            out.append({"name": name, "value": text})
    return out if len(issues) == before else None


def check_url(value: object, path: str, issues: Issues) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        issues.add(path, "must be a string")
        return None
    if len(value) > URL_MAX:
        issues.add(path, f"must be at most {URL_MAX} characters")
        return None
    return value
