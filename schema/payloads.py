"""The payload unions of the contract: the success type or the typed errors it can fail with."""

from __future__ import annotations

from typing import Annotated

import strawberry

from sliceboard.schema.errors import (
    ConflictError,
    Deleted,
    InvalidInputError,
    NotFoundError,
    RateLimitedError,
)
from sliceboard.schema.jobs import Job
from sliceboard.schema.types.dataset import Dataset
from sliceboard.schema.types.model import Model, ModelRun
from sliceboard.schema.types.slice import Slice

CreateDatasetPayload = Annotated[
    Dataset | InvalidInputError | ConflictError, strawberry.union("CreateDatasetPayload")
]
CreateModelPayload = Annotated[
    Model | InvalidInputError | ConflictError, strawberry.union("CreateModelPayload")
]
CreateModelRunPayload = Annotated[
    ModelRun | InvalidInputError | NotFoundError | ConflictError,
    strawberry.union("CreateModelRunPayload"),
]
UpsertLabelsPayload = Annotated[
    ModelRun | InvalidInputError | NotFoundError, strawberry.union("UpsertLabelsPayload")
]
CreateSlicePayload = Annotated[
    Slice | InvalidInputError | NotFoundError | ConflictError,
    strawberry.union("CreateSlicePayload"),
]
EvaluationJobPayload = Annotated[
    Job | InvalidInputError | NotFoundError | RateLimitedError,
    strawberry.union("EvaluationJobPayload"),
]
DeletePayload = Annotated[Deleted | NotFoundError, strawberry.union("DeletePayload")]

UPSERT_ERRORS = (InvalidInputError, NotFoundError)
CREATE_ERRORS = (InvalidInputError, ConflictError)
CREATE_RUN_ERRORS = (InvalidInputError, NotFoundError, ConflictError)
DELETE_ERRORS = (NotFoundError,)
