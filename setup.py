"""The optional compiled mask kernels (server/evaluation/geometry/_native.c); everything else
is declared in pyproject.toml. Without a C compiler the install still succeeds and the
numpy versions are used (server/evaluation/geometry/native.py)."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "server.evaluation.geometry._native",
            ["server/evaluation/geometry/_native.c"],
            # no fused multiply-add: float rounding must equal numpy's and pycocotools'
            extra_compile_args=["-O2", "-ffp-contract=off"],
            optional=True,
        )
    ]
)
