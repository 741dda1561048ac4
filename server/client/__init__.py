"""The Python client of a Sliceboard server: GraphQL over HTTP, nothing of the server imported.

    from sliceboard.client import Client

    with Client("http://127.0.0.1:8000", api_key=None) as client:
        dataset = client.ensure_dataset("roads")
        client.upsert_items(dataset, [{"referenceId": "img1", "width": 640, "height": 480}])
        run = client.ensure_model_run(client.ensure_model("yolo-v8"), dataset, "val")
        client.evaluate(run).wait()
        print(client.metrics(run, filter={"referenceIds": ["img1"]}).coco.ap)

``AsyncClient`` has the same methods as coroutines.
"""

from sliceboard.client.async_client import AsyncClient, ExportResult
from sliceboard.client.errors import (
    AuthenticationError,
    ConflictError,
    GraphQLError,
    HTTPError,
    InvalidInputError,
    Issue,
    JobFailedError,
    LimitExceededError,
    NotFoundError,
    PermissionDeniedError,
    RequestTooLargeError,
    ServerUnavailableError,
    SliceboardError,
    UnsupportedByServerError,
)
from sliceboard.client.frames import to_frame
from sliceboard.client.jobs import AsyncJobHandle
from sliceboard.client.models import (
    Annotation,
    ApiKey,
    CocoSummary,
    CreatedApiKey,
    Dataset,
    Evaluation,
    Item,
    Job,
    LabelMetrics,
    MetricsReport,
    Model,
    ModelRun,
    Prediction,
    PrPoint,
    Slice,
    UpsertResult,
)
from sliceboard.client.retry import RetryPolicy
from sliceboard.client.sync_client import Client, JobHandle

__all__ = [
    "Annotation",
    "ApiKey",
    "AsyncClient",
    "AsyncJobHandle",
    "AuthenticationError",
    "Client",
    "CocoSummary",
    "ConflictError",
    "CreatedApiKey",
    "Dataset",
    "Evaluation",
    "ExportResult",
    "GraphQLError",
    "HTTPError",
    "InvalidInputError",
    "Issue",
    "Item",
    "Job",
    "JobFailedError",
    "JobHandle",
    "LabelMetrics",
    "LimitExceededError",
    "MetricsReport",
    "Model",
    "ModelRun",
    "NotFoundError",
    "PermissionDeniedError",
    "PrPoint",
    "Prediction",
    "RequestTooLargeError",
    "RetryPolicy",
    "ServerUnavailableError",
    "Slice",
    "SliceboardError",
    "UnsupportedByServerError",
    "UpsertResult",
    "to_frame",
]
