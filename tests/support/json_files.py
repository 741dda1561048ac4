"""Writing test inputs as JSON files (COCO ground truth and results for the file loaders)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson


def write_json(path: Path, value: Any) -> Path:
    path.write_bytes(orjson.dumps(value))
    return path
