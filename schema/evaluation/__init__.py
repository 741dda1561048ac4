"""Evaluation in the schema, one idea per module:

    options    the ``EvaluationOptions`` input and its one conversion to the service's options
    versions   the mutation that queues an evaluation; the ``Evaluation`` a run shows
    report     metrics over a slice (``MetricsReport`` and its parts)
    browse     paging through true/false positives and misses; a prediction's match
    arguments  what the resolvers share: optional arguments, the process's snapshot cache

Resolvers are thin: they call ``sliceboard.services.evaluation`` and shape its answers. Asking
for metrics before any evaluation completed is a top-level error with code FAILED_PRECONDITION.
"""
