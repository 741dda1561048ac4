"""The direction of dependencies (DESIGN.md §1), checked on the source with ``ast``:

* ``server.evaluation`` imports nothing of ours (pure numpy/shapely);
* ``server.storage`` imports neither ``server.services``, ``server.jobs`` nor ``schema``;
* ``server.services`` never imports ``schema``, nor ``server.jobs`` (jobs call services; a service
  wakes the runner through the callable it is handed);
* nothing imports ``server.app`` except ``server.cli``;
* ``schema`` reaches storage only for sessions (``server.storage.db``), row types
  (``server.storage.tables``) and constants: every query goes through ``server.services``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("server", "schema")


def _module_name(relative: str) -> str:
    parts = list(Path(relative).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


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
        for package in PACKAGES
        for p in (ROOT / package).rglob("*.py")
        if "migrations" not in p.parts
    )
    return {str(p.relative_to(ROOT)): p.read_text() for p in sorted(paths)}


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def _rule_breaks(source: str, base: str, names: list[str]) -> list[str]:
    # ``from server import app`` imports the module server.app: check base.name too.
    targets = [base, *(f"{base}.{name}" for name in names)]

    def reaches(*banned: str) -> bool:
        return any(_within(t, b) for t in targets for b in banned)

    broken: list[str] = []
    if _within(source, "server.evaluation") and any(
        reaches(p) and not _within(base, "server.evaluation") for p in PACKAGES
    ):
        broken.append("the engine imports nothing of ours")
    if _within(source, "server.storage") and reaches("server.services", "server.jobs", "schema"):
        broken.append("storage must not reach up")
    if _within(source, "server.services") and reaches("schema", "server.jobs"):
        broken.append("services know nothing of GraphQL or the jobs that call them")
    if source != "server.cli" and source != "server.app" and reaches("server.app"):
        broken.append("only the CLI builds the app")
    if _within(source, "schema") and _within(base, "server.storage"):
        allowed = base in ("server.storage.db", "server.storage.tables") or (
            base == "server.storage" and set(names) <= {"tables"}
        )
        constants = bool(names) and all(name.isupper() for name in names)
        if not (allowed or constants):
            broken.append("the schema queries through server.services")
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
        ("server/evaluation/probe.py", "from server.storage import tables\n", "engine"),
        ("server/storage/probe.py", "from ..services import catalog\n", "reach up"),
        ("server/services/probe.py", "import schema.errors\n", "GraphQL"),
        ("server/services/probe.py", "from server.jobs.runner import JobRunner\n", "runner"),
        ("schema/probe.py", "from server.storage.reads import page_items\n", "queries through"),
        ("server/jobs/probe.py", "from server import app\n", "only the CLI"),
    ],
)
def test_each_rule_catches_its_violation(module: str, source: str, rule: str) -> None:
    assert any(rule in v for v in violations({module: source}))


def test_allowed_imports_pass() -> None:
    allowed = {
        "schema/probe.py": "from server.storage import tables\nfrom server.storage.db import transaction\n"
        "from server.storage.jobs import TERMINAL_STATUSES\nfrom server.services import reads\n",
        "server/cli.py": "from server.app import create_app\n",
        "server/evaluation/probe.py": "from . import matching\nimport numpy\n",
    }
    assert violations(allowed) == []
