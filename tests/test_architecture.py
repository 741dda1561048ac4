"""The layers of DESIGN.md §1, checked on the source with ``ast``. Every rule holds for every
module: there is no list of exceptions, and each rule has a probe below that proves it catches
its violation.

Arrows (imports):

* ``sliceboard.evaluation`` (the engine) imports nothing of ours;
* ``sliceboard.storage`` reaches up to nothing (services, jobs, compute, the GraphQL layer);
* ``sliceboard.services`` imports neither the GraphQL layer nor ``sliceboard.jobs`` (jobs call
  services; a service wakes the runner through the callable it is handed);
* ``sliceboard.compute`` (process and cache machinery) imports no use case, job, GraphQL or storage;
* ``sliceboard.client`` imports nothing of the server: it speaks GraphQL over HTTP;
* only ``sliceboard.cli`` imports ``sliceboard.app``;
* the GraphQL layer reaches storage only for the row types its answers are built from
  (``sliceboard.storage.tables``): sessions come from the runtime, queries and constants
  through services.

The unit of work (code):

* the GraphQL layer or a job opens the unit of work; a service is handed the session and never
  opens one;
* nothing outside storage commits, rolls back or begins a transaction: the unit of work does;
* storage holds every query: outside it no module builds a statement (``select``, ``insert``,
  ``update``, ``delete``, ``text``... from sqlalchemy or sqlmodel), calls a method of a
  ``session`` (it only hands it to storage functions) or connects to the database
  (``runtime.database``, SQLAlchemy's engine).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# folder -> the package it installs as (setup.py)
FOLDERS = {"server": "sliceboard", "schema": "sliceboard.schema"}
SCHEMA = "sliceboard.schema"
ROW_TYPES = "sliceboard.storage.tables"
SQL_LIBRARIES = ("sqlalchemy", "sqlmodel")
STATEMENT_BUILDERS = frozenset(
    {"select", "insert", "update", "delete", "text", "func", "exists", "union", "union_all"}
)
# What our code calls a database session; outside storage it is only handed on.
SESSION_NAME = "session"
TRANSACTION_ENDS = frozenset({"commit", "rollback", "begin", "begin_nested"})
SESSION_OPENERS = frozenset({"transaction", "read_session", "unit_of_work", "reading", "sessions"})


@dataclass(frozen=True)
class Module:
    path: str
    name: str
    tree: ast.Module

    def within(self, *packages: str) -> bool:
        return any(_within(self.name, package) for package in packages)


@dataclass(frozen=True)
class Import:
    base: str
    names: list[str]
    line: int

    def reaches(self, *packages: str) -> bool:
        # ``from sliceboard import app`` imports the module sliceboard.app: check base.name too.
        targets = [self.base, *(f"{self.base}.{name}" for name in self.names)]
        return any(_within(t, p) for t in targets for p in packages)


Finding = tuple[int, str]  # (line, what it does)
Rule = Callable[[Module], Iterator[Finding]]


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _module_name(relative: str) -> str:
    folder, *parts = Path(relative).with_suffix("").parts
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([FOLDERS[folder], *parts])


def _imports(module: Module) -> Iterator[Import]:
    """Every import, relative ones resolved against the module's package."""
    is_package = module.path.endswith("__init__.py")
    package = module.name if is_package else module.name.rpartition(".")[0]
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(alias.name, [], node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = parts[: len(parts) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield Import(base, [alias.name for alias in node.names], node.lineno)


def _calls(module: Module) -> Iterator[tuple[ast.Call, str]]:
    """Each call with the name it calls (``f`` for ``f()``, ``m`` for ``x.m()``)."""
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name):
                yield node, node.func.id
            elif isinstance(node.func, ast.Attribute):
                yield node, node.func.attr


def _name_of(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


# --- arrows ----------------------------------------------------------------------------------


def _banned_imports(module: Module, banned: tuple[str, ...], rule: str) -> Iterator[Finding]:
    for imported in _imports(module):
        if imported.reaches(*banned):
            yield imported.line, f"imports {imported.base}: {rule}"


def _self_contained(module: Module, package: str, rule: str) -> Iterator[Finding]:
    """Imports of ours from outside ``package``, for a module inside it."""
    if module.within(package):
        for imported in _imports(module):
            if imported.reaches("sliceboard") and not _within(imported.base, package):
                yield imported.line, f"imports {imported.base}: {rule}"


def engine_imports_nothing_of_ours(module: Module) -> Iterator[Finding]:
    yield from _self_contained(
        module, "sliceboard.evaluation", "the engine imports nothing of ours"
    )


def storage_reaches_up_to_nothing(module: Module) -> Iterator[Finding]:
    if module.within("sliceboard.storage"):
        above = ("sliceboard.services", "sliceboard.jobs", "sliceboard.compute", SCHEMA)
        yield from _banned_imports(module, above, "storage must not reach up")


def services_know_no_graphql_nor_jobs(module: Module) -> Iterator[Finding]:
    if module.within("sliceboard.services"):
        banned = (SCHEMA, "sliceboard.jobs")
        yield from _banned_imports(module, banned, "services know nothing of GraphQL or the runner")


def compute_serves_no_layer(module: Module) -> Iterator[Finding]:
    if module.within("sliceboard.compute"):
        banned = ("sliceboard.services", "sliceboard.jobs", "sliceboard.storage", SCHEMA)
        yield from _banned_imports(module, banned, "compute machinery knows no use case or table")


def client_imports_nothing_of_the_server(module: Module) -> Iterator[Finding]:
    yield from _self_contained(module, "sliceboard.client", "the client speaks only HTTP")


def only_the_cli_builds_the_app(module: Module) -> Iterator[Finding]:
    if module.name not in ("sliceboard.cli", "sliceboard.app"):
        yield from _banned_imports(module, ("sliceboard.app",), "only the CLI builds the app")


def graphql_reaches_storage_only_for_rows(module: Module) -> Iterator[Finding]:
    if not module.within(SCHEMA):
        return
    for imported in _imports(module):
        if not imported.reaches("sliceboard.storage"):
            continue
        if imported.base == "sliceboard.storage":
            targets = [f"{imported.base}.{name}" for name in imported.names]
        else:
            targets = [imported.base]
        if not all(_within(target, ROW_TYPES) for target in targets):
            yield (
                imported.line,
                (
                    f"imports {imported.base}: the GraphQL layer takes rows from storage, "
                    "sessions from the runtime and the rest through sliceboard.services"
                ),
            )


# --- the unit of work ------------------------------------------------------------------------


def services_never_open_a_session(module: Module) -> Iterator[Finding]:
    if module.within("sliceboard.services"):
        for call, name in _calls(module):
            if name in SESSION_OPENERS:
                yield call.lineno, f"calls {name}(): services are handed the session"


def only_the_runtime_opens_a_unit_of_work(module: Module) -> Iterator[Finding]:
    """The GraphQL layer and the jobs open sessions through ``runtime.unit_of_work()`` and
    ``runtime.reading()``; storage's own openers are for the runtime alone."""
    if not (module.within("sliceboard.storage") or module.name == "sliceboard.runtime"):
        for imported in _imports(module):
            if imported.base == "sliceboard.storage.db" and {"transaction", "read_session"} & set(
                imported.names
            ):
                yield imported.line, "imports a session opener: the runtime opens units of work"


def only_the_unit_of_work_commits(module: Module) -> Iterator[Finding]:
    if not module.within("sliceboard.storage"):
        for call, name in _calls(module):
            if name in TRANSACTION_ENDS:
                yield call.lineno, f"calls .{name}(): the unit of work begins and commits"


def _from_sql_library(module_name: str) -> bool:
    return module_name.split(".")[0] in SQL_LIBRARIES


def _sql_module_aliases(module: Module) -> set[str]:
    """Names bound to sqlalchemy/sqlmodel or one of their modules (``sa`` in ``import
    sqlalchemy as sa``, ``sql`` in ``from sqlalchemy import sql``)."""
    aliases: set[str] = set()
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            bound = [(a.asname or a.name.split(".")[0], a.name) for a in node.names]
            aliases.update(name for name, full in bound if _from_sql_library(full))
        elif isinstance(node, ast.ImportFrom) and _from_sql_library(node.module or ""):
            aliases.update(a.asname or a.name for a in node.names if a.name.islower())
    return aliases


def storage_holds_every_query(module: Module) -> Iterator[Finding]:
    if module.within("sliceboard.storage"):
        return
    for imported in _imports(module):
        builders = STATEMENT_BUILDERS.intersection(imported.names)
        if _from_sql_library(imported.base) and builders:
            yield imported.line, f"imports {', '.join(sorted(builders))}: SQL is built in storage"
    aliases = _sql_module_aliases(module)
    for node in ast.walk(module.tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in STATEMENT_BUILDERS
            and _name_of(node.value) in aliases
        ):
            yield node.lineno, f"uses {_name_of(node.value)}.{node.attr}: SQL is built in storage"
    for call, name in _calls(module):
        receiver = _name_of(call.func.value) if isinstance(call.func, ast.Attribute) else None
        if receiver == SESSION_NAME or (receiver in ("engine", "database") and name == "connect"):
            yield call.lineno, f"calls {receiver}.{name}(): queries run in storage"


RULES: list[Rule] = [
    engine_imports_nothing_of_ours,
    storage_reaches_up_to_nothing,
    services_know_no_graphql_nor_jobs,
    compute_serves_no_layer,
    client_imports_nothing_of_the_server,
    only_the_cli_builds_the_app,
    graphql_reaches_storage_only_for_rows,
    services_never_open_a_session,
    only_the_runtime_opens_a_unit_of_work,
    only_the_unit_of_work_commits,
    storage_holds_every_query,
]


def _sources() -> dict[str, str]:
    paths = (
        p
        for folder in FOLDERS
        for p in (ROOT / folder).rglob("*.py")
        if "migrations" not in p.parts
    )
    return {str(p.relative_to(ROOT)): p.read_text() for p in sorted(paths)}


def violations(sources: dict[str, str], rules: list[Rule] = RULES) -> list[str]:
    found: list[str] = []
    for relative, text in sources.items():
        module = Module(relative, _module_name(relative), ast.parse(text, relative))
        for rule in rules:
            found.extend(f"{relative}:{line} {what}" for line, what in rule(module))
    return found


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.__name__)
def test_rule_holds(rule: Rule) -> None:
    assert violations(_sources(), [rule]) == []


def _body(statement: str) -> str:
    """``statement`` inside a coroutine, as a probe module's source."""
    return f"async def f(r, s, session):\n    {statement}\n"


@pytest.mark.parametrize(
    ("module", "source", "rule"),
    [
        ("server/evaluation/probe.py", "from sliceboard.storage import tables\n", "engine"),
        ("server/storage/probe.py", "from ..services import catalog\n", "reach up"),
        ("server/storage/probe.py", "from sliceboard.compute import lru\n", "reach up"),
        ("server/services/probe.py", "import sliceboard.schema.errors\n", "GraphQL"),
        ("server/services/probe.py", "from sliceboard.jobs.runner import JobRunner\n", "runner"),
        ("server/compute/probe.py", "from sliceboard.storage import reads\n", "compute"),
        ("server/compute/probe.py", "from ..services import slices\n", "compute"),
        ("server/client/probe.py", "from sliceboard.errors import NotFound\n", "only HTTP"),
        ("server/jobs/probe.py", "from sliceboard import app\n", "only the CLI"),
        ("schema/probe.py", "from sliceboard.storage.reads import page_items\n", "rows from"),
        ("schema/probe.py", "from sliceboard.storage.db import transaction\n", "rows from"),
        ("schema/probe.py", "from sliceboard.storage.jobs import TERMINAL_STATUSES\n", "rows from"),
        ("schema/probe.py", "from sliceboard.storage import tables, reads\n", "rows from"),
        (
            "server/jobs/probe.py",
            "from sliceboard.storage.db import transaction\n",
            "runtime opens",
        ),
        ("server/app.py", "from .storage.db import ping, read_session\n", "runtime opens"),
        ("server/services/probe.py", _body("await s.commit()"), "begins and"),
        ("schema/probe.py", _body("await session.rollback()"), "begins and"),
        ("server/services/probe.py", _body("async with r.unit_of_work() as s: ..."), "handed the"),
        ("server/services/probe.py", _body("async with transaction(r) as s: ..."), "handed the"),
        ("server/jobs/probe.py", "from sqlalchemy import select\n", "SQL is built"),
        ("schema/probe.py", "from sqlmodel import col, select\n", "SQL is built"),
        ("server/services/probe.py", "import sqlalchemy as sa\nq = sa.update(T)\n", "SQL is built"),
        ("server/app.py", "from sqlalchemy import sql\nq = sql.text('SELECT 1')\n", "SQL is built"),
        ("schema/probe.py", _body("await session.get(T, 1)"), "run in"),
        ("server/app.py", _body("async with r.database.connect() as c: ..."), "run in"),
    ],
)
def test_each_rule_catches_its_violation(module: str, source: str, rule: str) -> None:
    assert any(rule in v for v in violations({module: source}))


def test_allowed_code_passes() -> None:
    allowed = {
        "schema/probe.py": "from sliceboard.storage import tables\n"
        "from sliceboard.storage.tables import Job\nfrom sliceboard.services import reads\n"
        "from sqlalchemy.ext.asyncio import AsyncSession\n"
        "async def f(runtime):\n    async with runtime.unit_of_work() as session:\n"
        "        return await reads.page_items(session, limit=1)\n",
        "server/services/probe.py": "from sliceboard.storage import reads\n"
        "async def f(session):\n    return await reads.rows_by_ids(session=session, ids=[1])\n",
        "server/storage/probe.py": "import sqlalchemy as sa\n"
        "async def f(session):\n    await session.execute(sa.select(T))\n    await session.commit()\n",
        "server/cli.py": "from sliceboard.app import create_app\n",
        "server/evaluation/probe.py": "from . import matching\nimport numpy\n",
        "server/compute/probe.py": "from sliceboard.evaluation import engine\nfrom . import lru\n",
        "server/client/probe.py": "import httpx\nfrom sliceboard.client import queries\n",
        "server/jobs/probe.py": "from sqlalchemy import event\nevent.listen(e, 'connect', f)\n",
    }
    assert violations(allowed) == []
