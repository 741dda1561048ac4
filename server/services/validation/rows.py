"""Whole-batch validation of item, annotation and prediction rows.

Each ``validate_*`` returns the normalised rows (keys = column names, plus ``reference_id`` for
annotations and predictions, which the service resolves to item ids) and records every issue;
the caller raises once the batch has been read completely.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sliceboard.services.validation.fast import fast_items, fast_objects, gc_paused
from sliceboard.services.validation.fields import (
    LABEL_MAX,
    REFERENCE_ID_MAX,
    check_area,
    check_class_pdf,
    check_classifications,
    check_confidence,
    check_custom_metrics,
    check_metadata,
    check_optional_positive_int,
    check_text,
    check_url,
    is_plain_text,
)
from sliceboard.services.validation.geometry import parse_geometry
from sliceboard.services.validation.issues import Issues

Row = dict[str, Any]
#: The label stored for a semantic mask sent without one (its segments carry the labels).
SEMANTIC_LABEL = "semantic"


def check_row_limit(rows: object, name: str, max_rows: int) -> list[Any]:
    """The batch as a list; a batch above ``max_rows`` is refused before any row is read."""
    if not isinstance(rows, list):
        issues = Issues()
        issues.add(name, "must be a list")
        issues.raise_if_any()
    assert isinstance(rows, list)
    if len(rows) > max_rows:
        issues = Issues()
        issues.add(name, f"{len(rows)} rows exceed the limit of {max_rows} rows per batch")
        issues.raise_if_any()
    return rows


def _fast(check: Callable[[], list[Row] | None]) -> list[Row] | None:
    """The fast path's rows, or None: not plainly well-formed (or the check itself failed on
    an input the full validators then judge, e.g. an integer too large for a float)."""
    try:
        return check()
    except Exception:
        return None


def validate_items(raw_rows: list[Any], issues: Issues) -> list[Row]:
    with gc_paused():
        fast = _fast(lambda: fast_items(raw_rows))
        return fast if fast is not None else _validate_items(raw_rows, issues)


def _validate_items(raw_rows: list[Any], issues: Issues) -> list[Row]:
    rows: list[Row] = []
    first_index: dict[str, int] = {}
    for i, raw in enumerate(raw_rows):
        path = f"items[{i}]"
        if not isinstance(raw, dict):
            issues.add(path, "must be an object")
            continue
        before = len(issues)
        ref = check_text(
            raw.get("reference_id"), path + ".referenceId", issues, max_length=REFERENCE_ID_MAX
        )
        url = check_url(raw.get("url"), path + ".url", issues)
        width = check_optional_positive_int(raw.get("width"), path + ".width", issues)
        height = check_optional_positive_int(raw.get("height"), path + ".height", issues)
        metadata = check_metadata(raw.get("metadata"), path + ".metadata", issues)
        if ref is not None:
            seen = first_index.setdefault(ref, i)
            if seen != i:
                issues.add(
                    path + ".referenceId", f"duplicate of items[{seen}].referenceId in this batch"
                )
        if len(issues) == before:
            rows.append(
                {
                    "reference_id": ref,
                    "url": url,
                    "width": width,
                    "height": height,
                    "metadata": metadata,
                }
            )
    return rows


def _common(
    raw: dict[str, Any],
    path: str,
    issues: Issues,
    seen: dict[tuple[str, str], int],
    name: str,
    i: int,
) -> Row | None:
    """The fields annotations and predictions share; None when any of them is bad.

    Each field is first tested inline for the common well-formed case; only a value that
    fails goes through the checker that builds the issue path and message.
    """
    before = len(issues)
    ref = raw.get("reference_id")
    if not is_plain_text(ref, REFERENCE_ID_MAX):
        ref = check_text(ref, path + ".referenceId", issues, max_length=REFERENCE_ID_MAX)
    key = raw.get("annotation_id")
    if not is_plain_text(key, REFERENCE_ID_MAX):
        key = check_text(key, path + ".annotationId", issues, max_length=REFERENCE_ID_MAX)
    label = raw.get("label")
    if label is None and raw.get("semantic_segmentation") is not None:
        label = SEMANTIC_LABEL  # Nucleus' SegmentationAnnotation has no label of its own
    if not is_plain_text(label, LABEL_MAX):
        label = check_text(label, path + ".label", issues, max_length=LABEL_MAX)
    metadata = raw.get("metadata")
    if metadata is not None:
        metadata = check_metadata(metadata, path + ".metadata", issues)
    classifications = raw.get("classifications")
    if classifications is not None:
        classifications = check_classifications(classifications, path + ".classifications", issues)
    area_raw = raw.get("area")
    area = None if area_raw is None else check_area(area_raw, path + ".area", issues)
    geometry = parse_geometry(raw, path, issues)
    if ref is not None and key is not None:
        first = seen.setdefault((ref, key), i)
        if first != i:
            issues.add(
                path + ".annotationId",
                f"duplicate of {name}[{first}] (same referenceId and annotationId)",
            )
    if len(issues) > before or geometry is None:
        return None
    kind, stored, own_area = geometry
    return {
        "reference_id": ref,
        "annotation_id": key,
        "label": label,
        "type": kind,
        "geometry": stored,
        "area": area if area_raw is not None else own_area,
        "metadata": metadata,
        "classifications": classifications,
    }


def validate_annotations(raw_rows: list[Any], issues: Issues) -> list[Row]:
    with gc_paused():
        fast = _fast(lambda: fast_objects(raw_rows, predictions=False))
        return fast if fast is not None else _validate_annotations(raw_rows, issues)


def _validate_annotations(raw_rows: list[Any], issues: Issues) -> list[Row]:
    rows: list[Row] = []
    seen: dict[tuple[str, str], int] = {}
    for i, raw in enumerate(raw_rows):
        path = f"annotations[{i}]"
        if not isinstance(raw, dict):
            issues.add(path, "must be an object")
            continue
        iscrowd = raw.get("iscrowd")
        bad_crowd = iscrowd is not None and not isinstance(iscrowd, bool)
        if bad_crowd:
            issues.add(path + ".iscrowd", "must be a boolean")
        row = _common(raw, path, issues, seen, "annotations", i)
        if row is not None and not bad_crowd:
            row["iscrowd"] = bool(iscrowd)
            rows.append(row)
    return rows


def validate_predictions(raw_rows: list[Any], issues: Issues) -> list[Row]:
    with gc_paused():
        fast = _fast(lambda: fast_objects(raw_rows, predictions=True))
        return fast if fast is not None else _validate_predictions(raw_rows, issues)


def _validate_predictions(raw_rows: list[Any], issues: Issues) -> list[Row]:
    rows: list[Row] = []
    seen: dict[tuple[str, str], int] = {}
    for i, raw in enumerate(raw_rows):
        path = f"predictions[{i}]"
        if not isinstance(raw, dict):
            issues.add(path, "must be an object")
            continue
        before = len(issues)
        confidence = raw.get("confidence")
        if not (type(confidence) is float and 0.0 <= confidence <= 1.0) and confidence is not None:
            confidence = check_confidence(confidence, path + ".confidence", issues)
        class_pdf = raw.get("class_pdf")
        if class_pdf is not None:
            class_pdf = check_class_pdf(class_pdf, path + ".classPdf", issues)
        metrics = raw.get("custom_metrics")
        if metrics is not None:
            metrics = check_custom_metrics(metrics, path + ".customMetrics", issues)
        row = _common(raw, path, issues, seen, "predictions", i)
        if row is not None and len(issues) == before:
            row["confidence"] = confidence
            row["class_pdf"] = class_pdf
            row["custom_metrics"] = metrics
            rows.append(row)
    return rows
