"""Helpers shared by test modules: case generators, factories, clients and process helpers.

Test modules import helpers from here only, never from one another; fixtures stay in the
conftest.py files. The pycocotools reference shared with the benchmarks is ``bench.pycoco``.
"""
