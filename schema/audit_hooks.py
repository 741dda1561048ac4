"""Every root mutation field writes an audit entry (``sliceboard.services.audit``).

``install`` wraps the resolver of each Mutation field, so a field added later is audited with no
change here. The wrapper names the pending entry (key, field, the dataset its arguments point
at) for the unit of work to write with outcome OK before it commits; when the field answers an
error payload or raises, its transaction was rolled back, so the wrapper writes the entry with
the error code in a transaction of its own (or corrects the entry an earlier commit wrote).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from collections.abc import Mapping
from inspect import isawaitable
from typing import Any

import strawberry
from graphql import GraphQLError, GraphQLField, GraphQLResolveInfo

from sliceboard.errors import Conflict, FailedPrecondition, InvalidInput, LimitExceeded, NotFound
from sliceboard.principal import key_fields, principal_of
from sliceboard.schema.context import Context
from sliceboard.schema.errors import Error
from sliceboard.schema.extensions import PublicError
from sliceboard.schema.upload_hooks import graphql_core_schema
from sliceboard.services import audit
from sliceboard.services.ids import parse_id

logger = logging.getLogger(__name__)

#: The field that creates a dataset: its entry finds the dataset by the name it was given.
CREATES_DATASET = "createDataset"
#: Fields whose ``id`` argument is a dataset's.
DATASET_BY_ID = frozenset({"deleteDataset"})

#: The outcome of a mutation cut off by the request's deadline or its client's departure.
CANCELLED = "CANCELLED"
CANCELLED_TEXT = "the request ended before the mutation did"
# Entries of cancelled mutations being written (a strong reference until they are).
_settling: set[asyncio.Future[None]] = set()

_EXCEPTION_CODES: tuple[tuple[type[Exception], str], ...] = (
    (InvalidInput, "INVALID_INPUT"),
    (NotFound, "NOT_FOUND"),
    (Conflict, "CONFLICT"),
    (LimitExceeded, "LIMIT_EXCEEDED"),
    (FailedPrecondition, "FAILED_PRECONDITION"),
)


def install(schema: strawberry.Schema) -> None:
    mutation_type = graphql_core_schema(schema).mutation_type
    if mutation_type is None:
        return
    for name, field in mutation_type.fields.items():
        field.resolve = _audited(name, field)


def payload_code(result: object) -> str:
    """``OK``, or the code of an error payload: ``NotFoundError`` -> ``NOT_FOUND``."""
    if not isinstance(result, Error):
        return audit.OK
    name = type(result).__name__.removesuffix("Error")
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper() or "ERROR"


def exception_code(exc: BaseException) -> str:
    """The code of a top-level error a mutation raised (INTERNAL for a bug)."""
    if isinstance(exc, PublicError | GraphQLError):
        code = (exc.extensions or {}).get("code")
        if code:
            return str(code)
    for kind, code in _EXCEPTION_CODES:
        if isinstance(exc, kind):
            return code
    extensions = getattr(exc, "extensions", None)  # e.g. a permission class's error
    if isinstance(extensions, Mapping) and extensions.get("code"):
        return str(extensions["code"])
    return "INTERNAL"


def dataset_hint(field_name: str, arguments: Mapping[str, Any]) -> audit.DatasetHint:
    """Where the dataset a mutation touches can be found among its arguments."""
    nested = _plain(arguments.get("input"))
    for source in (arguments, nested):
        dataset = parse_id(source["datasetId"]) if source.get("datasetId") is not None else None
        if dataset is not None:
            return audit.DatasetHint(dataset_id=dataset)
    if field_name in DATASET_BY_ID and arguments.get("id") is not None:
        return audit.DatasetHint(dataset_id=parse_id(arguments["id"]))
    for source in (arguments, nested):
        run = parse_id(source["modelRunId"]) if source.get("modelRunId") is not None else None
        if run is not None:
            return audit.DatasetHint(model_run_id=run)
    if field_name == CREATES_DATASET and isinstance(nested.get("name"), str):
        return audit.DatasetHint(dataset_name=nested["name"])
    return audit.DatasetHint()


def _plain(value: Any) -> Mapping[str, Any]:
    """An input object's fields by GraphQL name, whether graphql-core handed a dict or strawberry
    an instance."""
    if isinstance(value, Mapping):
        return value
    if value is None:
        return {}
    return {
        "datasetId": getattr(value, "dataset_id", None),
        "modelRunId": getattr(value, "model_run_id", None),
        "name": getattr(value, "name", None),
    }


def _audited(name: str, field: GraphQLField) -> Any:
    resolve = field.resolve
    assert resolve is not None, f"Mutation.{name} has no resolver"

    @functools.wraps(resolve)  # still names the resolver it wraps (``__wrapped__``)
    async def audited(root: Any, info: GraphQLResolveInfo[Any], **arguments: Any) -> Any:
        context: Context = info.context
        key_id, key_name = key_fields(principal_of(context))
        pending = audit.PendingEntry(
            operation=name,
            key_id=key_id,
            key_name=key_name,
            dataset=dataset_hint(name, arguments),
        )
        token = audit.in_flight.set(pending)
        try:
            result = resolve(root, info, **arguments)
            if isawaitable(result):
                result = await result
        except asyncio.CancelledError:  # the request's deadline, or its client went away
            pending.open = False
            audit.in_flight.reset(token)
            # this task may not await any more: the entry is written beside it
            settling = asyncio.ensure_future(_settle(context, pending, CANCELLED, CANCELLED_TEXT))
            _settling.add(settling)
            settling.add_done_callback(_settling.discard)
            raise
        except Exception as exc:
            pending.open = False
            audit.in_flight.reset(token)
            await _settle(context, pending, exception_code(exc), str(exc))
            raise
        pending.open = False
        audit.in_flight.reset(token)
        code = payload_code(result)
        if code != audit.OK:  # raised errors are counted with the operation's top-level errors
            context.runtime.metrics.error(code)
        await _settle(context, pending, code, getattr(result, "message", None))
        return result

    return audited


async def _settle(
    context: Context, pending: audit.PendingEntry, code: str, message: str | None
) -> None:
    """Makes the entry say how the mutation ended."""
    if code == audit.OK and pending.written_id is not None:
        return  # written with the mutation's own commit
    if code == "INTERNAL":
        message = None  # a bug's text is for the log, not for whoever reads the audit log
    try:
        async with context.runtime.unit_of_work() as session:
            if pending.written_id is not None:
                await audit.correct_outcome(
                    session, pending.written_id, outcome=code, message=message
                )
            else:
                await audit.record(session, pending, outcome=code, message=message)
    except Exception:  # the mutation's own answer still goes out
        logger.exception("could not write the audit entry of %s", pending.operation)
