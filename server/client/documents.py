"""The GraphQL documents the client sends, one per operation, with shared selections."""

from __future__ import annotations

DATASET = "id name metadata createdAt"
MODEL = "id name referenceId metadata"
RUN = "id name model { id referenceId } dataset { id }"
SLICE = "id name filter referenceIds dataset { id }"
ITEM = "id referenceId url width height metadata"
GEOMETRY = """geometry {
  __typename
  ... on Box { x y width height rotation }
  ... on Polygon { vertices { x y } holes { x y } }
  ... on Polyline { vertices { x y } }
  ... on Keypoints { points { x y visibility name } skeleton }
  ... on Segmentation { rle { counts size } polygons { vertices { x y } holes { x y } } }
  ... on Cuboid { position { x y z } dimensions { x y z } yaw }
}"""
ANNOTATION = f"id annotationId label type area iscrowd metadata item {{ referenceId }} {GEOMETRY}"
PREDICTION = (
    f"id annotationId label type area confidence metadata iou item {{ referenceId }} "
    f"matchedAnnotation {{ annotationId }} {GEOMETRY}"
)
#: Job fields every server has; servers with file jobs add EXTRA_JOB_FIELDS.
JOB_FIELDS = (
    "id",
    "kind",
    "status",
    "progress",
    "message",
    "error",
    "attempts",
    "createdAt",
    "startedAt",
    "finishedAt",
)
EXTRA_JOB_FIELDS = ("rowsDone", "rowsTotal", "result", "issues")
EVALUATION = "id version status options isStale createdAt completedAt timings error"
COCO = "ap ap50 ap75 apSmall apMedium apLarge ar1 ar10 ar100 arSmall arMedium arLarge"
REPORT = f"""itemCount groundTruthCount predictionCount coco {{ {COCO} }}
perLabel {{ label ap ap50 ar precision recall f1 truePositives falsePositives falseNegatives }}
confusionMatrix {{ labels counts }}"""

#: The error members of a payload union (the Error interface), and InvalidInputError's issues
#: where the union has that member. The aliases keep them apart from `Job.message` (nullable)
#: and `Job.issues` (strings) in the same selection.
ERRORS = "... on Error { errorMessage: message } ... on InvalidInputError { inputIssues: issues { path message } }"
NOT_FOUND = "... on Error { errorMessage: message }"
UPSERT_ERRORS = ERRORS


def payload(field: str, arguments: str, variables: str, selection: str, errors: str) -> str:
    """``mutation(variables) { field(arguments) { __typename selection errors } }``."""
    return f"mutation({variables}) {{ {field}({arguments}) {{ __typename {selection} {errors} }} }}"


CREATE_DATASET = payload(
    "createDataset",
    "input: $input",
    "$input: CreateDatasetInput!",
    f"... on Dataset {{ {DATASET} }}",
    ERRORS,
)
CREATE_MODEL = payload(
    "createModel",
    "input: $input",
    "$input: CreateModelInput!",
    f"... on Model {{ {MODEL} }}",
    ERRORS,
)
CREATE_MODEL_RUN = payload(
    "createModelRun",
    "input: $input",
    "$input: CreateModelRunInput!",
    f"... on ModelRun {{ {RUN} }}",
    ERRORS,
)
CREATE_SLICE = payload(
    "createSlice",
    "input: $input",
    "$input: CreateSliceInput!",
    f"... on Slice {{ {SLICE} }}",
    ERRORS,
)
DELETE_DATASET = payload(
    "deleteDataset",
    "id: $id",
    "$id: ID!",
    "... on Deleted { id }",
    NOT_FOUND,
)
UPSERT_LABELS = payload(
    "upsertLabels",
    "modelRunId: $run, annotationIds: $ids, all: $all",
    "$run: ID!, $ids: [String!], $all: Boolean",
    f"... on ModelRun {{ {RUN} }}",
    UPSERT_ERRORS,
)
UPSERT_RESULT = "... on UpsertResult { new updated ignored }"
API_KEY = "id name scope prefix datasetIds createdAt expiresAt revokedAt"
CREATE_API_KEY = payload(
    "createApiKey",
    "input: $input",
    "$input: CreateApiKeyInput!",
    f"... on CreatedApiKey {{ secret apiKey {{ {API_KEY} }} }}",
    ERRORS,
)
REVOKE_API_KEY = payload(
    "revokeApiKey", "id: $id", "$id: ID!", f"... on ApiKey {{ {API_KEY} }}", NOT_FOUND
)
#: Documents of fields that servers with API keys have (checked against the SDL when it has them).
API_KEY_DOCUMENTS = ("CREATE_API_KEY", "REVOKE_API_KEY")


def job_payload(field: str, arguments: str, variables: str, job_fields: str) -> str:
    return payload(field, arguments, variables, f"... on Job {{ {job_fields} }}", UPSERT_ERRORS)


def evaluate(job_fields: str) -> str:
    return job_payload(
        "calculateEvaluationMetrics",
        "modelRunId: $run, options: $options",
        "$run: ID!, $options: EvaluationOptions",
        job_fields,
    )


def cancel_job(job_fields: str) -> str:
    return payload(
        "cancelJob",
        "id: $id",
        "$id: ID!",
        f"... on Job {{ {job_fields} }}",
        NOT_FOUND,
    )


def import_file(job_fields: str) -> str:
    return job_payload("importFile", "input: $input", "$input: ImportFileInput!", job_fields)


def export_file(job_fields: str) -> str:
    return job_payload("exportFile", "input: $input", "$input: ExportFileInput!", job_fields)


def job_query(job_fields: str) -> str:
    return f"query($id: ID!) {{ job(id: $id) {{ {job_fields} }} }}"


def job_subscription(job_fields: str) -> str:
    return f"subscription($id: ID!) {{ job(id: $id) {{ {job_fields} }} }}"


def run_jobs(job_fields: str) -> str:
    return f"query($id: ID!) {{ modelRun(id: $id) {{ jobs {{ {job_fields} }} }} }}"


def upsert(field: str, id_argument: str, rows_argument: str, row_type: str) -> str:
    """The upload mutation of one batch field (``upsertItems(datasetId, items)``...)."""
    return payload(
        field,
        f"{id_argument}: $id, {rows_argument}: $rows, update: $update",
        f"$id: ID!, $rows: [{row_type}!]!, $update: Boolean",
        UPSERT_RESULT,
        UPSERT_ERRORS,
    )


UPLOAD_CUSTOM_METRICS = payload(
    "uploadCustomMetrics",
    "modelRunId: $id, metrics: $rows",
    "$id: ID!, $rows: [CustomMetricInput!]!",
    UPSERT_RESULT,
    UPSERT_ERRORS,
)

DATASET_BY = f"query($id: ID, $name: String) {{ dataset(id: $id, name: $name) {{ {DATASET} }} }}"
MODEL_BY = f"query($id: ID, $ref: String) {{ model(id: $id, referenceId: $ref) {{ {MODEL} }} }}"
MODEL_RUN = f"query($id: ID!) {{ modelRun(id: $id) {{ {RUN} }} }}"
EVALUATION_OF = f"query($id: ID!) {{ modelRun(id: $id) {{ evaluation {{ {EVALUATION} }} }} }}"


def page(root: str, connection: str, node: str, variables: str = "", arguments: str = "") -> str:
    """A connection page: ``root { connection(arguments, first, after) { edges node } }``;
    ``root`` may be empty for a root connection."""
    args = f"{arguments}, " if arguments else ""
    inner = (
        f"{connection}({args}first: $first, after: $after) "
        f"{{ pageInfo {{ hasNextPage endCursor }} edges {{ node {{ {node} }} }} }}"
    )
    body = f"{root} {{ {inner} }}" if root else inner
    return f"query({variables}$first: Int, $after: String) {{ {body} }}"


DATASETS = page("", "datasets", DATASET)
MODELS = page("", "models", MODEL)
DATASET_RUNS = page("dataset(id: $id)", "modelRunsConnection", RUN, "$id: ID!, ")
DATASET_SLICES = page("dataset(id: $id)", "slicesConnection", SLICE, "$id: ID!, ")
ITEMS = page(
    "dataset(id: $id)", "items", ITEM, "$id: ID!, $filter: ItemFilter, ", "filter: $filter"
)
ANNOTATIONS = page(
    "dataset(id: $id)",
    "annotations",
    ANNOTATION,
    "$id: ID!, $labels: [String!], ",
    "labels: $labels",
)
PREDICTIONS = page(
    "modelRun(id: $id)",
    "predictions",
    PREDICTION,
    "$id: ID!, $filter: PredictionFilter, $order: PredictionOrder, $iou: Float, ",
    "filter: $filter, orderBy: $order, iouThreshold: $iou",
)
FALSE_NEGATIVES = page(
    "modelRun(id: $id)",
    "falseNegatives",
    ANNOTATION,
    "$id: ID!, $filter: ItemFilter, $iou: Float, $labels: [String!], ",
    "filter: $filter, iouThreshold: $iou, labels: $labels",
)

METRICS_ARGUMENTS = (
    "$id: ID!, $filter: ItemFilter, $slice: ID, $iou: Float, $confidence: Float, $labels: [String!]",
    "filter: $filter, sliceId: $slice, iouThreshold: $iou, confidenceThreshold: $confidence, "
    "labels: $labels",
)
METRICS = (
    f"query({METRICS_ARGUMENTS[0]}) {{ modelRun(id: $id) {{ metrics({METRICS_ARGUMENTS[1]}) "
    f"{{ {REPORT} }} }} }}"
)
PR_CURVE = (
    f"query({METRICS_ARGUMENTS[0]}, $label: String) {{ modelRun(id: $id) {{ "
    f"metrics({METRICS_ARGUMENTS[1]}) {{ precisionRecallCurve(label: $label) "
    "{ recall precision confidence } } } }"
)
CUSTOM_METRICS = """query($id: ID!, $filter: ItemFilter, $slice: ID, $names: [String!]) {
  modelRun(id: $id) { customMetrics(filter: $filter, sliceId: $slice, names: $names) {
    name aggregation source value count
    byConfidence { confidence value }
    confusion { tp fp tn fn precision recall f1 }
    byFeature { featureName value count byConfidence { confidence value }
      confusion { tp fp tn fn precision recall f1 }
      bySubclass { subclassName value count byConfidence { confidence value }
        confusion { tp fp tn fn precision recall f1 } } }
  } }
}"""

TYPE_FIELDS = (
    "query($name: String!) { __type(name: $name) { fields { name } inputFields { name } } }"
)
