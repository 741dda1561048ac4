"""Debian's Chromium driven by Playwright (the Python package), and what the browser tests
need beside it: the built page and axe-core. Missing pieces skip the tests, unless
SLICEBOARD_REQUIRE_BROWSER=1 (CI), where they fail."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "server" / "web_dist" / "index.html"
AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = Path(os.environ.get("SLICEBOARD_ARTIFACTS", ROOT / "test-artifacts"))
REQUIRE_BROWSER = os.environ.get("SLICEBOARD_REQUIRE_BROWSER") == "1"


def missing(what: str) -> None:
    if REQUIRE_BROWSER:
        pytest.fail(f"the browser tests are required here (SLICEBOARD_REQUIRE_BROWSER=1): {what}")
    pytest.skip(what)


def chromium_path() -> str:
    """Chromium's executable: $SLICEBOARD_CHROMIUM, else `chromium` on the PATH."""
    found = os.environ.get("SLICEBOARD_CHROMIUM") or shutil.which("chromium")
    if not found:
        missing("no Chromium (apt-get install chromium)")
    assert found is not None
    if not PAGE.is_file() or not AXE.is_file():
        missing("the page is not built (cd web && npm ci && npm run build)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing("the Python package playwright is not installed")
    return found
