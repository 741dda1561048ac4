"""Every root field of the schema against a real server with auth required, called with no key,
a read, a write and an admin key, and an admin key limited to another dataset.

The expected decisions are written out here (``EXPECTED``), independently of
schema/permissions.py: a root field added to the schema without a decision in both places fails
``test_every_root_field_has_a_decision``. Documents are generated from the schema: required
arguments get a sample of their type; ids are chosen per argument (``ARGUMENT_ENTITY``,
``ID_ENTITY``), and an id argument this file cannot place fails the test too.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLScalarType,
    Undefined,
    get_named_type,
    get_nullable_type,
    is_composite_type,
    is_list_type,
    is_non_null_type,
)

from sliceboard.principal import ADMIN, READ, WRITE
from sliceboard.schema.permissions import PERMISSIONS
from sliceboard.schema.schema import schema
from sliceboard.services.api_keys import new_key
from tests.support.auth import data, graphql, ws_first
from tests.support.serving import start_server

# field -> (scope needed, whether a dataset-limited key is refused outright)
EXPECTED: dict[str, tuple[str, bool]] = {
    "Query.viewer": (READ, False),
    "Query.job": (READ, False),
    "Query.datasets": (READ, False),
    "Query.dataset": (READ, False),
    "Query.models": (READ, False),
    "Query.model": (READ, False),
    "Query.modelRun": (READ, False),
    "Query.apiKeys": (ADMIN, True),
    "Query.auditLog": (ADMIN, True),
    "Query.compareRuns": (READ, False),
    "Mutation.createDataset": (WRITE, True),
    "Mutation.upsertItems": (WRITE, False),
    "Mutation.upsertAnnotations": (WRITE, False),
    "Mutation.createModel": (WRITE, False),
    "Mutation.createModelRun": (WRITE, False),
    "Mutation.upsertPredictions": (WRITE, False),
    "Mutation.upsertLabels": (WRITE, False),
    "Mutation.createSlice": (WRITE, False),
    "Mutation.uploadCustomMetrics": (WRITE, False),
    "Mutation.calculateEvaluationMetrics": (WRITE, False),
    "Mutation.cancelJob": (WRITE, False),
    "Mutation.deleteDataset": (ADMIN, False),
    "Mutation.importFile": (WRITE, False),
    "Mutation.exportFile": (READ, False),
    "Mutation.createApiKey": (ADMIN, True),
    "Mutation.revokeApiKey": (ADMIN, True),
    "Subscription.job": (READ, False),
}
RANK = {READ: 0, WRITE: 1, ADMIN: 2}
# What an argument (or input field) of type ID names, by its name; `id` depends on the field.
ARGUMENT_ENTITY = {
    "datasetId": "dataset",
    "modelRunId": "run",
    "modelId": "model",
    "keyId": "key",
}
ID_ENTITY = {
    "Query.job": "job",
    "Subscription.job": "job",
    "Mutation.cancelJob": "job",
    "Query.dataset": "dataset",
    "Mutation.deleteDataset": "dataset",
    "Query.modelRun": "run",
    "Query.model": "model",
    "Mutation.revokeApiKey": "key",
}
# Entities that belong to a dataset: a limited key must see those of another one as missing.
OF_A_DATASET = frozenset({"dataset", "run", "job"})
MISSING = "987654321"
ROOTS = ("Query", "Mutation", "Subscription")


def root_fields() -> list[tuple[str, str, GraphQLField]]:
    found: list[tuple[str, str, GraphQLField]] = []
    for root in ROOTS:
        kind = schema._schema.get_type(root)
        assert kind is not None
        found.extend((root, name, f) for name, f in kind.fields.items())  # type: ignore[attr-defined]
    return found


def test_every_root_field_has_a_decision() -> None:
    in_schema = {f"{root}.{name}" for root, name, _ in root_fields()}
    in_permissions = {f"{root}.{name}" for root, fields in PERMISSIONS.items() for name in fields}
    assert in_schema - set(EXPECTED) == set(), "decide the scope of these fields in EXPECTED"
    assert in_schema - in_permissions == set(), "add these fields to schema/permissions.py"
    for name, (scope, all_datasets) in EXPECTED.items():
        root, field = name.split(".")
        rule = PERMISSIONS[root][field]
        assert (rule.scope, rule.all_datasets) == (scope, all_datasets), name


class Targets:
    """The ids a document names: of dataset alpha (``other``) or of nothing (``missing``)."""

    def __init__(self, ids: dict[str, str]) -> None:
        self.ids = ids
        self.used: set[str] = set()

    def id_for(self, entity: str) -> str:
        self.used.add(entity)
        return self.ids[entity]


def _sample(kind: GraphQLInputType, name: str, field: str, targets: Targets) -> Any:
    nullable = get_nullable_type(kind)
    if is_list_type(nullable):
        return []
    if isinstance(nullable, GraphQLInputObjectType):
        return {
            sub: _sample(f.type, sub, field, targets)
            for sub, f in nullable.fields.items()
            if is_non_null_type(f.type) and f.default_value is Undefined
        }
    if isinstance(nullable, GraphQLEnumType):
        return next(iter(nullable.values))
    assert isinstance(nullable, GraphQLScalarType)
    if nullable.name == "ID":
        entity = ARGUMENT_ENTITY.get(name) or (ID_ENTITY.get(field) if name == "id" else None)
        if entity is None:
            pytest.fail(f"{field}: classify the ID argument {name!r} in ARGUMENT_ENTITY/ID_ENTITY")
        return targets.id_for(entity)
    return {
        "String": f"auth-matrix-{new_key()[3:15]}",
        "Int": 1,
        "Float": 1.0,
        "Boolean": False,
        "JSON": {},
        "DateTime": "2099-01-01T00:00:00+00:00",
        "Upload": "not-a-file-part",  # answered InvalidInputError once the scope allows it
    }[nullable.name]


def document(
    root: str, name: str, field: GraphQLField, targets: Targets
) -> tuple[str, dict[str, Any]]:
    """``root { name(args) { __typename } }`` with the required arguments (and an ``id``)."""
    qualified = f"{root}.{name}"
    declared, passed, variables = [], [], {}
    for arg, definition in field.args.items():
        required = is_non_null_type(definition.type) and definition.default_value is Undefined
        if not required and not (arg == "id" and qualified in ID_ENTITY):
            continue
        variables[arg] = _sample(definition.type, arg, qualified, targets)
        declared.append(f"${arg}: {definition.type}")
        passed.append(f"{arg}: ${arg}")
    arguments = f"({', '.join(passed)})" if passed else ""
    selection = " { __typename }" if is_composite_type(get_named_type(field.type)) else ""
    header = f"({', '.join(declared)})" if declared else ""
    return f"{root.lower()}{header} {{ {name}{arguments}{selection} }}", variables


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    database = tmp_path_factory.mktemp("auth") / "auth.db"
    admin = new_key()
    env = {**os.environ, "SLICEBOARD_BOOTSTRAP_ADMIN_KEY": admin}
    process, base = start_server(
        "--auth",
        "required",
        "--no-jobs",
        "--database-url",
        f"sqlite+aiosqlite:///{database}",
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        yield {"base": base, "admin": admin, **_populate(base, admin)}
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)


def _populate(base: str, admin: str) -> dict[str, Any]:
    def create(query: str, variables: dict[str, Any]) -> Any:
        answer = data(base, admin, query, variables)
        return next(iter(answer.values()))

    ids: dict[str, dict[str, str]] = {}
    model = create(
        'mutation { createModel(input: {name: "m", referenceId: "m"}) { ... on Model { id } } }',
        {},
    )["id"]
    for name in ("alpha", "beta"):
        dataset = create(
            "mutation($n: String!) { createDataset(input: {name: $n}) { ... on Dataset { id } } }",
            {"n": name},
        )["id"]
        create(
            'mutation($d: ID!) { upsertItems(datasetId: $d, items: [{referenceId: "i1"}]) '
            "{ ... on UpsertResult { new } } }",
            {"d": dataset},
        )
        run = create(
            "mutation($m: ID!, $d: ID!, $n: String!) { createModelRun(input: {modelId: $m, "
            "datasetId: $d, name: $n}) { ... on ModelRun { id } } }",
            {"m": model, "d": dataset, "n": f"run-{name}"},
        )["id"]
        job = create(
            "mutation($r: ID!) { calculateEvaluationMetrics(modelRunId: $r) { ... on Job { id } } }",
            {"r": run},
        )["id"]
        ids[name] = {"dataset": dataset, "run": run, "job": job, "model": model}
    keys = {}
    for name, scope, limited in (
        ("reader", "READ", None),
        ("writer", "WRITE", None),
        ("admin", "ADMIN", None),
        ("beta-admin", "ADMIN", [ids["beta"]["dataset"]]),
    ):
        keys[name] = create(
            "mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) "
            "{ ... on CreatedApiKey { secret } } }",
            {"i": {"name": name, "scope": scope, "datasetIds": limited}},
        )["secret"]
    return {"ids": ids, "keys": keys, "model": model}


def _call(
    base: str, key: str | None, root: str, query: str, variables: dict[str, Any]
) -> dict[str, Any]:
    """The answer as a client sees it: ``{"status": 401}`` or the GraphQL body."""
    if root == "Subscription":
        message = ws_first(base, key, query, variables)
        if "closed" in message:
            return {"status": message["closed"]}
        payload = message["payload"]
        return payload if isinstance(payload, dict) else {"errors": payload}
    response = graphql(base, key, query, variables)
    if response.status_code != 200:
        return {
            "status": response.status_code,
            "challenge": response.headers.get("www-authenticate"),
        }
    body: dict[str, Any] = response.json()
    return body


def _codes(body: dict[str, Any]) -> list[str]:
    return [error.get("extensions", {}).get("code") for error in body.get("errors") or []]


FIELDS = [(root, name) for root, name, _ in root_fields()]


@pytest.mark.parametrize(("root", "name"), FIELDS, ids=[f"{r}.{n}" for r, n in FIELDS])
def test_scopes(server: dict[str, Any], root: str, name: str) -> None:
    field = dict(((r, n), f) for r, n, f in root_fields())[(root, name)]
    needed, _ = EXPECTED[f"{root}.{name}"]
    missing = {
        "dataset": MISSING,
        "run": MISSING,
        "job": MISSING,
        "key": MISSING,
        "model": server["model"],
    }
    query, variables = document(root, name, field, Targets(missing))
    base = server["base"]

    anonymous = _call(base, None, root, query, variables)
    if root == "Subscription":
        assert anonymous == {"status": 4403}
    else:
        assert anonymous["status"] == 401
        assert anonymous["challenge"].startswith("Bearer")

    for key_name, scope in (("reader", READ), ("writer", WRITE), ("admin", ADMIN)):
        body = _call(base, server["keys"][key_name], root, query, variables)
        if RANK[scope] < RANK[needed]:
            assert _codes(body) == ["FORBIDDEN"], (key_name, body)
            error = body["errors"][0]
            assert error["extensions"]["requiredScope"] == needed
            assert needed in error["message"] and name in error["message"]
        else:
            assert "FORBIDDEN" not in _codes(body), (key_name, body)
            assert "UNAUTHENTICATED" not in _codes(body), (key_name, body)


def _normalised(body: dict[str, Any], ids: dict[str, str]) -> dict[str, Any]:
    text = repr(body)
    for value in ids.values():
        text = re.sub(rf"'{re.escape(value)}'", "'<id>'", text)
    return {"answer": text}


@pytest.mark.parametrize(("root", "name"), FIELDS, ids=[f"{r}.{n}" for r, n in FIELDS])
def test_a_key_limited_to_another_dataset(server: dict[str, Any], root: str, name: str) -> None:
    """Whatever names dataset alpha's things answers, for a key limited to beta, exactly as a
    missing id does for an unlimited admin; nothing of alpha changes."""
    field = dict(((r, n), f) for r, n, f in root_fields())[(root, name)]
    _, all_datasets = EXPECTED[f"{root}.{name}"]
    base, limited = server["base"], server["keys"]["beta-admin"]
    alpha = server["ids"]["alpha"]
    other = Targets({**alpha, "key": MISSING})
    query, variables = document(root, name, field, other)
    body = _call(base, limited, root, query, variables)
    if all_datasets:
        assert _codes(body) == ["FORBIDDEN"], body
        assert "limited to datasets" in body["errors"][0]["message"]
        return
    assert "FORBIDDEN" not in _codes(body), body
    if not other.used & OF_A_DATASET:
        return  # names nothing of a dataset: its lists are checked in test_lists_of_a_limited_key
    missing = Targets(
        {
            "dataset": MISSING,
            "run": MISSING,
            "job": MISSING,
            "key": MISSING,
            "model": server["model"],
        }
    )
    query_missing, variables_missing = document(root, name, field, missing)
    assert query_missing == query
    expected = _call(base, server["keys"]["admin"], root, query, variables_missing)
    ids = {**alpha, "missing": MISSING}
    ids.pop("model")
    assert _normalised(body, ids) == _normalised(expected, ids)
    # alpha is untouched: still there, its run's job still queued
    after = data(
        base,
        server["keys"]["admin"],
        "query($d: ID!, $j: ID!) { dataset(id: $d) { name items { totalCount } } job(id: $j) { status } }",
        {"d": alpha["dataset"], "j": alpha["job"]},
    )
    assert after == {
        "dataset": {"name": "alpha", "items": {"totalCount": 1}},
        "job": {"status": "QUEUED"},
    }


def test_lists_of_a_limited_key(server: dict[str, Any]) -> None:
    base, limited = server["base"], server["keys"]["beta-admin"]
    beta = server["ids"]["beta"]
    seen = data(
        base,
        limited,
        "{ viewer { name scope datasetIds } datasets { totalCount edges { node { id name } } } "
        'model(referenceId: "m") { runs { name } } alpha: dataset(name: "alpha") { id } }',
    )
    assert seen["viewer"] == {
        "name": "beta-admin",
        "scope": "ADMIN",
        "datasetIds": [beta["dataset"]],
    }
    assert seen["datasets"] == {
        "totalCount": 1,
        "edges": [{"node": {"id": beta["dataset"], "name": "beta"}}],
    }
    assert seen["model"] == {"runs": [{"name": "run-beta"}]}
    assert seen["alpha"] is None
    # the unlimited admin sees both
    everything = data(base, server["keys"]["admin"], "{ datasets { totalCount } }")
    assert everything["datasets"]["totalCount"] >= 2
