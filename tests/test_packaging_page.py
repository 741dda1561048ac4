"""The Insights page in the wheel: shipped when it was built, and an install from sources on a
machine without Node.js still succeeds, its `/` saying how to get the page."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.support.browser import PAGE, REQUIRE_BROWSER
from tests.support.serving import start_server

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


def build_wheel(source: Path, out: Path, env: dict[str, str]) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(source)],
        check=True, capture_output=True, env=env,
    )  # fmt: skip
    (built,) = out.glob("sliceboard-*.whl")
    return built


def test_the_wheel_ships_the_built_page(tmp_path: Path) -> None:
    if not PAGE.is_file():
        if REQUIRE_BROWSER:
            pytest.fail("the page is not built (cd web && npm ci && npm run build)")
        pytest.skip("the page is not built")
    names = zipfile.ZipFile(build_wheel(ROOT, tmp_path, dict(os.environ))).namelist()
    assert "sliceboard/web_dist/index.html" in names
    assert any(n.startswith("sliceboard/web_dist/assets/") and n.endswith(".js") for n in names)
    assert "sliceboard/web_dist/graphiql/graphiql.min.js" in names


def test_without_node_the_install_succeeds_and_says_how_to_get_the_page(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md", "MANIFEST.in"):
        shutil.copy(ROOT / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.so", "web_dist", "node_modules", "gql")
    for folder in ("server", "schema", "web"):
        shutil.copytree(ROOT / folder, source / folder, ignore=ignore)
    # a PATH with this Python but no npm or node
    bare = tmp_path / "bin"
    bare.mkdir()
    os.symlink(sys.executable, bare / "python")
    env = {**os.environ, "PATH": str(bare), "SLICEBOARD_BUILD_WEB": "auto"}
    wheel = build_wheel(source, tmp_path / "out", env)
    assert not [n for n in zipfile.ZipFile(wheel).namelist() if "web_dist" in n]

    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(wheel)],
        check=True, capture_output=True,
    )  # fmt: skip
    server, base = start_server(
        "--no-jobs", "--database-url", f"sqlite+aiosqlite:///{tmp_path / 'w.db'}",
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(target)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        page = httpx.get(f"{base}/")
        assert page.status_code == 200
        assert "not part of this installation" in page.text and "npm run build" in page.text
        api = httpx.post(f"{base}/graphql", json={"query": "{ datasets { totalCount } }"})
        assert api.json() == {"data": {"datasets": {"totalCount": 0}}}
    finally:
        server.send_signal(signal.SIGTERM)
        output = server.communicate(timeout=20)[0].decode()
    assert "Traceback" not in output, output
