"""What pyproject.toml cannot say: the package mapping and the optional C extension.

The folders stay where the design card puts them, ``server/`` and ``schema/`` at the top of the
repository, and install as one import package: ``server/`` is ``sliceboard`` and ``schema/`` is
``sliceboard.schema``. Nothing else lands at the top of site-packages (a generic ``server`` or
``schema`` would shadow other projects'; ``schema`` is a popular PyPI library).

The compiled mask kernels (server/evaluation/geometry/_native.c) are optional: without a C
compiler the install still succeeds and the numpy versions are used
(server/evaluation/geometry/native.py).
"""

from setuptools import Extension, find_packages, setup

FOLDERS = {"server": "sliceboard", "schema": "sliceboard.schema"}


def mapped_packages() -> list[str]:
    """Every package under the folders, named as it installs (server/jobs -> sliceboard.jobs)."""
    packages = []
    for folder, name in FOLDERS.items():
        found = find_packages(include=[folder, f"{folder}.*"], exclude=["*.__pycache__"])
        packages += [name + package[len(folder) :] for package in found]
    return packages


setup(
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
