"""What pyproject.toml cannot say: the package mapping and the optional C extension.

The folders stay where the design card puts them, ``server/`` and ``schema/`` at the top of the
repository, and install as one import package: ``server/`` is ``sliceboard`` and ``schema/`` is
``sliceboard.schema``. Nothing else lands at the top of site-packages (a generic ``server`` or
``schema`` would shadow other projects'; ``schema`` is a popular PyPI library).

The compiled mask kernels (server/evaluation/geometry/_native.c) are optional: without a C
compiler the install still succeeds and the numpy versions are used
(server/evaluation/geometry/native.py).

The Insights page (web/) is built into server/web_dist, and so into the package, when Node.js
and npm are present; without them the install still succeeds and ``/`` says how to get the
page. SLICEBOARD_BUILD_WEB=0 skips the page, =1 makes a failed build fail the install.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, find_packages, setup
from setuptools.command.build_py import build_py

FOLDERS = {"server": "sliceboard", "schema": "sliceboard.schema"}


def mapped_packages() -> list[str]:
    """Every package under the folders, named as it installs (server/jobs -> sliceboard.jobs)."""
    packages = []
    for folder, name in FOLDERS.items():
        found = find_packages(include=[folder, f"{folder}.*"], exclude=["*.__pycache__"])
        packages += [name + package[len(folder) :] for package in found]
    return packages


HERE = Path(__file__).resolve().parent
WEB = HERE / "web"
PAGE = HERE / "server" / "web_dist"


def _page_is_current() -> bool:
    """The built page is newer than everything it is built from (the SDL included)."""
    index = PAGE / "index.html"
    if not index.is_file():
        return False
    sources = [WEB / "package-lock.json", WEB / "index.html", HERE / "schema" / "schema.graphql"]
    sources += [
        path for path in (WEB / "src").rglob("*") if path.is_file() and "gql" not in path.parts
    ]
    built = index.stat().st_mtime
    return all(path.stat().st_mtime <= built for path in sources if path.exists())


def build_page() -> None:
    choice = os.environ.get("SLICEBOARD_BUILD_WEB", "auto")
    if choice == "0" or not (WEB / "package.json").is_file() or _page_is_current():
        return
    npm = shutil.which("npm")
    if npm is None:
        if choice == "1":
            raise RuntimeError("SLICEBOARD_BUILD_WEB=1 but npm (Node.js) was not found")
        print("sliceboard: npm not found, installing without the Insights page", file=sys.stderr)
        return
    try:
        if not (WEB / "node_modules").is_dir():
            subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=WEB, check=True)
        subprocess.run([npm, "run", "build"], cwd=WEB, check=True)
    except (subprocess.CalledProcessError, OSError) as exc:
        if choice == "1":
            raise
        print(f"sliceboard: the Insights page was not built ({exc})", file=sys.stderr)


class BuildPyWithPage(build_py):
    """build_py after building the page, so its files are package data of this build."""

    def run(self) -> None:
        build_page()
        super().run()


setup(
    cmdclass={"build_py": BuildPyWithPage},
    packages=mapped_packages(),
    package_dir={name: folder for folder, name in FOLDERS.items()},
    ext_modules=[
        Extension(
            "sliceboard.evaluation.geometry._native",
            ["server/evaluation/geometry/_native.c"],
            # no fused multiply-add: float rounding must equal numpy's and pycocotools'
            extra_compile_args=["-O2", "-ffp-contract=off"],
            optional=True,
        )
    ],
)
