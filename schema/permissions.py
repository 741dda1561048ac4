"""Who may call which root field: the ONE table of permission decisions, and the extension that
applies it before an operation runs.

Scopes nest: ``admin`` ⊃ ``write`` ⊃ ``read``. ``read``: queries and subscriptions; ``write``:
uploads, evaluations, slices, custom metrics; ``admin``: deletes and keys. ``all_datasets``: only
a key that is not limited to datasets may call it (it creates a dataset, or manages keys, which
could otherwise widen the key's own reach). A root field missing from the table needs an
unlimited admin key (fail closed); ``tests/schema/test_permissions.py`` fails for it.

A refused operation runs nothing: a top-level error with code FORBIDDEN names the field and
the scope it needs (``extensions``: ``field``, ``requiredScope``). Introspection (``__schema``,
``__type``) is for every key, and for admin keys only under ``SLICEBOARD_ENV=production``.

What a dataset-limited key may *see* is not decided here but where ids become rows
(``sliceboard.services.visibility``): this extension hands the principal to that code.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)
from strawberry.extensions import SchemaExtension

from sliceboard.config import Settings
from sliceboard.principal import ADMIN, READ, WRITE, Principal, use_principal
from sliceboard.schema.extensions import PublicError


@dataclass(frozen=True)
class Rule:
    scope: str
    all_datasets: bool = False


PERMISSIONS: dict[str, dict[str, Rule]] = {
    "Query": {
        "viewer": Rule(READ),
        "job": Rule(READ),
        "datasets": Rule(READ),
        "dataset": Rule(READ),
        "models": Rule(READ),
        "model": Rule(READ),
        "modelRun": Rule(READ),
        "apiKeys": Rule(ADMIN, all_datasets=True),
        "auditLog": Rule(ADMIN, all_datasets=True),
        "compareRuns": Rule(READ),
    },
    "Mutation": {
        "createDataset": Rule(WRITE, all_datasets=True),
        "upsertItems": Rule(WRITE),
        "upsertAnnotations": Rule(WRITE),
        "createModel": Rule(WRITE),
        "createModelRun": Rule(WRITE),
        "upsertPredictions": Rule(WRITE),
        "upsertLabels": Rule(WRITE),
        "createSlice": Rule(WRITE),
        "uploadCustomMetrics": Rule(WRITE),
        "calculateEvaluationMetrics": Rule(WRITE),
        "cancelJob": Rule(WRITE),
        "deleteDataset": Rule(ADMIN),
        "importFile": Rule(WRITE),
        "exportFile": Rule(READ),
        "createApiKey": Rule(ADMIN, all_datasets=True),
        "revokeApiKey": Rule(ADMIN, all_datasets=True),
    },
    "Subscription": {
        "job": Rule(READ),
    },
}
UNLISTED = Rule(ADMIN, all_datasets=True)
TYPENAME = "__typename"
INTROSPECTION = frozenset({"__schema", "__type"})


def rule_for(root: str, field: str, *, production: bool) -> Rule:
    if field == TYPENAME:
        return Rule(READ)
    if field in INTROSPECTION:
        return Rule(ADMIN) if production else Rule(READ)
    return PERMISSIONS.get(root, {}).get(field, UNLISTED)


def refusal(principal: Principal, root: str, field: str, *, production: bool) -> PublicError | None:
    rule = rule_for(root, field, production=production)
    if not principal.has_scope(rule.scope):
        return PublicError(
            f"`{field}` needs a key with scope {rule.scope}; this key's scope is {principal.scope}.",
            code="FORBIDDEN",
            field=field,
            requiredScope=rule.scope,
        )
    if rule.all_datasets and principal.dataset_ids is not None:
        return PublicError(
            f"`{field}` needs a key that is not limited to datasets.",
            code="FORBIDDEN",
            field=field,
            requiredScope=rule.scope,
        )
    return None


def root_fields(document: DocumentNode, operation_name: str | None) -> tuple[str, list[str]]:
    """The root type (``Query``...) and the names of the root fields the chosen operation selects,
    through fragments and inline fragments."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [
        op
        for op in operations
        if operation_name is None or (op.name is not None and op.name.value == operation_name)
    ]
    if not chosen:
        return "Query", []
    operation = chosen[0]
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    root = operation.operation.value.capitalize()
    return root, list(dict.fromkeys(_fields(operation.selection_set, fragments, set())))


def _fields(
    selections: SelectionSetNode,
    fragments: dict[str, FragmentDefinitionNode],
    seen: set[str],
) -> Iterator[str]:
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            yield selection.name.value
        elif isinstance(selection, InlineFragmentNode):
            yield from _fields(selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in fragments and name not in seen:
                seen.add(name)
                yield from _fields(fragments[name].selection_set, fragments, seen)


class Permissions(SchemaExtension):
    """Applies :data:`PERMISSIONS` to every operation and limits its reads to the datasets its
    principal sees. Runs after validation (the document is known to fit the schema)."""

    def __init__(self, *, settings: Settings) -> None:
        self.production = settings.production

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        principal = getattr(context.context, "principal", None)
        if not isinstance(principal, Principal):
            raise PublicError("An API key is required.", code="UNAUTHENTICATED")
        use_principal(principal)
        if context.graphql_document is not None:
            root, fields = root_fields(context.graphql_document, context.operation_name)
            for field in fields:
                refused = refusal(principal, root, field, production=self.production)
                if refused is not None:
                    raise refused
        yield
