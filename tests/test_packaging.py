"""The wheel a user installs: one top-level package, ``sliceboard``, and a server that runs from it.

``server/`` installs as ``sliceboard`` and ``schema/`` as ``sliceboard.schema`` (setup.py). The
wheel is built from this checkout, unpacked into a folder of its own and served from there, with
the checkout off ``sys.path``, so a file missing from the wheel (a migration, the SDL) fails here.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.support.serving import start_server

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("sliceboard-*.whl")
    return built


def test_wheel_installs_only_the_sliceboard_package(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names}
    version = wheel.name.split("-")[1]
    assert top_level == {"sliceboard", f"sliceboard-{version}.dist-info"}
    assert "sliceboard/schema/schema.py" in names
    assert "sliceboard/schema/schema.graphql" in names
    assert "sliceboard/storage/migrations/versions/0001_initial_schema.py" in names
    assert not [name for name in names if name.endswith(".c")]
    if os.environ.get("SLICEBOARD_REQUIRE_NATIVE") == "1":
        assert any(n.startswith("sliceboard/evaluation/geometry/_native.") for n in names)


def test_wheel_console_script_is_sliceboard(wheel: Path) -> None:
    entry_points = next(
        n for n in zipfile.ZipFile(wheel).namelist() if n.endswith(".dist-info/entry_points.txt")
    )
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "sliceboard = sliceboard.cli:run" in text


def test_server_runs_from_the_wheel_alone(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    assert sorted(p.name for p in target.iterdir() if not p.name.endswith(".dist-info")) == [
        "bin",
        "sliceboard",
    ]
    # PYTHONPATH comes before the checkout's editable finder, and the working directory is
    # elsewhere, so every module below is the wheel's.
    env = {**os.environ, "PYTHONPATH": str(target)}
    located = subprocess.run(
        [sys.executable, "-c", "import sliceboard.schema.schema as s; print(s.__file__)"],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    assert Path(located.stdout.strip()).is_relative_to(target)

    server, base = start_server(
        "--no-jobs",
        "--database-url",
        f"sqlite+aiosqlite:///{tmp_path / 'wheel.db'}",
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        created = httpx.post(
            f"{base}/graphql",
            json={
                "query": 'mutation { createDataset(input: {name: "w"}) { ... on Dataset { name } } }'
            },
        ).json()
        assert created == {"data": {"createDataset": {"name": "w"}}}
    finally:
        server.send_signal(signal.SIGTERM)
        output = server.communicate(timeout=20)[0].decode()
    assert "Traceback" not in output, output
