"""File exports: a dataset's or a run's rows (COCO, COCO results, NDJSON) or an evaluation's
report, written to a file that a job's download URL serves."""
