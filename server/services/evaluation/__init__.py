"""Evaluating a model run, and answering from the result.

    lifecycle      request a new evaluation version; the steps of the ``evaluate`` job
    options        the user's evaluation options: one typed form, stored as camelCase JSON
    inputs         a run's stored rows -> the engine's arrays (the family registry picks the kernel)
    kernels        per geometry family: similarity kernel and areas from rows
    snapshot       the stored result: the engine's match table plus row ids, as one blob
    cache          loaded snapshots per process; the items and labels a query selects
    results        metrics of any slice of the visible evaluation
    report_parts   the parts of a slice report, pure numpy (the report worker runs them)
    browse         paging through true/false positives and misses

Nothing is imported here, so the report worker can load ``snapshot`` and ``report_parts``
without the rest.
"""
