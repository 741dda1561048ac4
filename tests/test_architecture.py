"""The direction of dependencies (DESIGN.md §1), checked on the source with ``ast``:

* ``sliceboard.evaluation`` imports nothing of ours (pure numpy/shapely);
* ``sliceboard.storage`` imports neither ``sliceboard.services``, ``sliceboard.jobs`` nor ``schema``;
* ``sliceboard.services`` never imports ``schema``, nor ``sliceboard.jobs`` (jobs call services; a service
  wakes the runner through the callable it is handed);
* nothing imports ``sliceboard.app`` except ``sliceboard.cli``;
* ``schema`` reaches storage only for sessions (``sliceboard.storage.db``), row types
  (``sliceboard.storage.tables``) and constants: every query goes through ``sliceboard.services``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# folder -> the package it installs as (setup.py)
FOLDERS = {"server": "sliceboard", "schema": "sliceboard.schema"}
SCHEMA = "sliceboard.schema"


def _module_name(relative: str) -> str:
    folder, *parts = Path(relative).with_suffix("").parts
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([FOLDERS[folder], *parts])


def _imports(relative: str, text: str) -> Iterator[tuple[str, list[str], int]]:
    """(imported module, imported names, line) for each import, relative imports resolved."""
    module = _module_name(relative)
    package = module if relative.endswith("__init__.py") else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(text, relative)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, [], node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield base, [alias.name for alias in node.names], node.lineno


def _sources() -> dict[str, str]:
    paths = (
        p
        for folder in FOLDERS
        for p in (ROOT / folder).rglob("*.py")
        if "migrations" not in p.parts
    )
    return {str(p.relative_to(ROOT)): p.read_text() for p in sorted(paths)}


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def _rule_breaks(source: str, base: str, names: list[str]) -> list[str]:
    # ``from sliceboard import app`` imports the module sliceboard.app: check base.name too.
    targets = [base, *(f"{base}.{name}" for name in names)]

    def reaches(*banned: str) -> bool:
        return any(_within(t, b) for t in targets for b in banned)

    broken: list[str] = []
    if (
        _within(source, "sliceboard.evaluation")
        and reaches("sliceboard")
        and not _within(base, "sliceboard.evaluation")
    ):
        broken.append("the engine imports nothing of ours")
    if _within(source, "sliceboard.storage") and reaches(
        "sliceboard.services", "sliceboard.jobs", SCHEMA
    ):
        broken.append("storage must not reach up")
    if _within(source, "sliceboard.services") and reaches(SCHEMA, "sliceboard.jobs"):
        broken.append("services know nothing of GraphQL or the jobs that call them")
    if source != "sliceboard.cli" and source != "sliceboard.app" and reaches("sliceboard.app"):
        broken.append("only the CLI builds the app")
    if _within(source, SCHEMA) and _within(base, "sliceboard.storage"):
        allowed = base in ("sliceboard.storage.db", "sliceboard.storage.tables") or (
            base == "sliceboard.storage" and set(names) <= {"tables"}
        )
        constants = bool(names) and all(name.isupper() for name in names)
        if not (allowed or constants):
            broken.append("the schema queries through sliceboard.services")
    return broken


def violations(sources: dict[str, str]) -> list[str]:
    found: list[str] = []
    for relative, text in sources.items():
        source = _module_name(relative)
        for base, names, line in _imports(relative, text):
            for rule in _rule_breaks(source, base, names):
                found.append(f"{relative}:{line} imports {base}: {rule}")
    return found


def test_dependency_direction() -> None:
    assert violations(_sources()) == []


@pytest.mark.parametrize(
    ("module", "source", "rule"),
    [
        ("server/evaluation/probe.py", "from sliceboard.storage import tables\n", "engine"),
        ("server/storage/probe.py", "from ..services import catalog\n", "reach up"),
        ("server/services/probe.py", "import sliceboard.schema.errors\n", "GraphQL"),
        ("server/services/probe.py", "from sliceboard.jobs.runner import JobRunner\n", "runner"),
        ("schema/probe.py", "from sliceboard.storage.reads import page_items\n", "queries through"),
        ("server/jobs/probe.py", "from sliceboard import app\n", "only the CLI"),
    ],
)
def test_each_rule_catches_its_violation(module: str, source: str, rule: str) -> None:
    assert any(rule in v for v in violations({module: source}))


def test_allowed_imports_pass() -> None:
    allowed = {
        "schema/probe.py": "from sliceboard.storage import tables\nfrom sliceboard.storage.db import transaction\n"
        "from sliceboard.storage.jobs import TERMINAL_STATUSES\nfrom sliceboard.services import reads\n",
        "server/cli.py": "from sliceboard.app import create_app\n",
        "server/evaluation/probe.py": "from . import matching\nimport numpy\n",
    }
    assert violations(allowed) == []
