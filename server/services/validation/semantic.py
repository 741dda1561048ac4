"""Semantic segmentation (Nucleus' ``SegmentationAnnotation``): an index mask and its segments.

The parser checks what the row itself says: exactly one of ``maskUrl`` or ``mask``, and the
segments ``[{index, label, metadata}]`` (distinct indices in 0..65535; a label may appear in
several segments). The mask's pixels are read afterwards, for the whole batch at once
(``sliceboard.services.semantic_masks``): they need the item's size and the dataset's ignore
index. Until then the stored geometry carries ``(issue path, source)`` under ``MASK_SOURCE``,
which that step replaces by the digest of the stored mask.
"""

from __future__ import annotations

from typing import Any

from sliceboard.services.validation.fields import LABEL_MAX, URL_MAX, check_metadata, check_text
from sliceboard.services.validation.issues import Issues

#: The key of the pending mask source in a parsed geometry (removed before anything is written).
MASK_SOURCE = "_mask_source"
MAX_INDEX = 65_535
#: Segments one mask may declare (a 16-bit mask has at most 65,536 indices).
MAX_SEGMENTS = MAX_INDEX + 1


def _segments(raw: object, path: str, issues: Issues) -> list[dict[str, Any]] | None:
    if not isinstance(raw, list) or not raw:
        issues.add(path, "must be a non-empty list of {index, label, metadata}")
        return None
    if len(raw) > MAX_SEGMENTS:
        issues.add(path, f"at most {MAX_SEGMENTS} segments")
        return None
    out: list[dict[str, Any]] = []
    seen: dict[int, int] = {}
    before = len(issues)
    for i, entry in enumerate(raw):
        where = f"{path}[{i}]"
        if not isinstance(entry, dict):
            issues.add(where, "must be an object {index, label, metadata}")
            continue
        index = entry.get("index")
        if type(index) is not int or not 0 <= index <= MAX_INDEX:
            issues.add(f"{where}.index", f"must be an integer from 0 to {MAX_INDEX}")
            index = None
        elif index in seen:
            issues.add(f"{where}.index", f"duplicate of {path}[{seen[index]}].index")
        else:
            seen[index] = i
        label = check_text(entry.get("label"), f"{where}.label", issues, max_length=LABEL_MAX)
        metadata = check_metadata(entry.get("metadata"), f"{where}.metadata", issues)
        if index is not None and label is not None:
            out.append({"index": index, "label": label, "metadata": metadata})
    return out if len(issues) == before else None


def parse_semantic(raw: object, path: str, issues: Issues) -> tuple[dict[str, Any], None] | None:
    """The geometry with its mask still pending (``MASK_SOURCE``); the area comes with the mask."""
    if not isinstance(raw, dict):
        issues.add(path, "must be an object {maskUrl or mask, segments}")
        return None
    url, upload = raw.get("mask_url"), raw.get("mask")
    segments = _segments(raw.get("segments"), path + ".segments", issues)
    if (url is None) == (upload is None):
        issues.add(path, "give exactly one of maskUrl or mask")
        return None
    if url is not None:
        if not isinstance(url, str) or not url or len(url) > URL_MAX:
            issues.add(path + ".maskUrl", f"must be a URL of at most {URL_MAX} characters")
            return None
        source: tuple[str, object] = (path + ".maskUrl", url)
    else:
        if not isinstance(upload, bytes):
            issues.add(path + ".mask", "must be a file part of a GraphQL multipart request")
            return None
        source = (path + ".mask", upload)
    if segments is None:
        return None
    geometry: dict[str, Any] = {"segments": segments, MASK_SOURCE: source}
    if url is not None:
        geometry["maskUrl"] = url
    return geometry, None
