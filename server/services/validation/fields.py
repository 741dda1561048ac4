"""Checks shared by every row: names, numbers, JSON metadata and the prediction extras.

Each check takes the raw value, the issue path and the collector; it returns the normalised
value (floats as ``float``) or None after recording an issue. Plain Python on purpose: this
runs once per row of every upload, where a model class per row would dominate the cost.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from sliceboard.clean_text import printable, text_problem
from sliceboard.input_limits import INT64_MAX, INT64_MIN, input_limits
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
    """A non-empty string of at most ``max_length`` characters, storable on both databases."""
    if is_plain_text(value, max_length):
        return value  # type: ignore[return-value]
    problem = text_problem(value) if isinstance(value, str) else None
    if not isinstance(value, str):
        issues.add(path, "must be a string")
    elif not value or value.isspace():
        issues.add(path, "must not be empty")
    elif len(value) > max_length:
        issues.add(path, f"must be at most {max_length} characters")
    elif problem is not None:
        issues.add(path, problem)
    return None


def is_plain_text(value: object, max_length: int) -> bool:
    """The common well-formed case of ``check_text``, tested inline by the row loops."""
    return (
        type(value) is str
        and 0 < len(value) <= max_length
        and not value.isspace()
        and text_problem(value) is None
    )


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


def _within(
    number: float | None, bound: float, path: str, issues: Issues, unit: str = ""
) -> float | None:
    """``number`` when |number| <= ``bound``; else an issue and None."""
    if number is not None and abs(number) > bound:
        issues.add(path, f"must be between -{bound:g} and {bound:g}{unit}")
        return None
    return number


def check_coordinate(value: object, path: str, issues: Issues) -> float | None:
    """A finite number within ``SLICEBOARD_MAX_COORDINATE`` of 0."""
    return _within(check_float(value, path, issues), input_limits().coordinate, path, issues)


def check_extent(value: object, path: str, issues: Issues) -> float | None:
    """A size: greater than 0 and at most ``SLICEBOARD_MAX_COORDINATE``."""
    number = check_positive(value, path, issues)
    bound = input_limits().coordinate
    if number is not None and number > bound:
        issues.add(path, f"must be at most {bound:g}")
        return None
    return number


def check_angle(value: object, path: str, issues: Issues) -> float | None:
    """Radians within ``SLICEBOARD_MAX_ROTATION`` of 0 (beyond, sin/cos lose their precision)."""
    number = check_float(value, path, issues)
    return _within(number, input_limits().rotation, path, issues, " radians")


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


def _json_problem(value: object, path: str, max_depth: int) -> tuple[str, str] | None:
    """``(path, message)`` of the first value in a JSON object that cannot be stored exactly on
    both databases: NaN/infinity, an integer beyond signed 64 bits, text with NUL or a lone
    surrogate (values and keys), or containers nested deeper than ``max_depth``. Iterative, so a
    deep value costs no recursion."""
    stack: list[tuple[object, str, int]] = [(value, path, 1)]
    while stack:
        current, where, depth = stack.pop()
        if isinstance(current, str):
            problem = text_problem(current)
            if problem is not None:
                return where, problem
        elif isinstance(current, bool) or current is None:
            continue
        elif isinstance(current, int):
            if not INT64_MIN <= current <= INT64_MAX:
                return where, "integers must fit in signed 64 bits; send larger ones as strings"
        elif isinstance(current, float):
            if not math.isfinite(current):
                return where, "must be a finite number"
        elif isinstance(current, dict | list):
            if depth > max_depth:
                return where, f"JSON may nest at most {max_depth} levels deep"
            if isinstance(current, list):
                stack.extend((child, f"{where}[{i}]", depth + 1) for i, child in enumerate(current))
                continue
            for key, child in current.items():
                if not isinstance(key, str):
                    return where, "keys must be strings"
                problem = text_problem(key)
                if problem is not None:
                    return f"{where}.{printable(key)}", f"keys {problem}"
                stack.append((child, f"{where}.{key}", depth + 1))
        else:
            return where, "must be JSON"
    return None


def check_metadata(value: object, path: str, issues: Issues) -> dict[str, Any] | None:
    """None or a JSON object both databases store exactly, within the depth and size limits
    (``SLICEBOARD_MAX_METADATA_DEPTH``, ``SLICEBOARD_MAX_METADATA_BYTES`` as compact JSON)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        issues.add(path, "must be a JSON object")
        return None
    if value:
        limits = input_limits()
        bad = _json_problem(value, path, limits.metadata_depth)
        if bad is not None:
            issues.add(*bad)
            return None
        size = len(orjson.dumps(value))
        if size > limits.metadata_bytes:
            issues.add(
                path, f"is {size} bytes as JSON; metadata may be at most {limits.metadata_bytes}"
            )
            return None
    return value


def check_area(value: object, path: str, issues: Issues) -> float | None:
    if value is None:
        return None
    number = check_float(value, path, issues)
    if number is not None and number < 0:
        issues.add(path, "must not be negative")
        return None
    bound = input_limits().coordinate ** 2
    if number is not None and number > bound:
        issues.add(path, f"must be at most {bound:g} (SLICEBOARD_MAX_COORDINATE squared)")
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
        if not isinstance(label, str) or not label:
            issues.add(path, "labels must be non-empty strings")
            continue
        where = f"{path}.{printable(label)}"
        problem = text_problem(label)
        if problem is not None:
            issues.add(where, f"labels {problem}")
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
    problem = text_problem(value)
    if problem is not None:
        issues.add(path, problem)
        return None
    return value
