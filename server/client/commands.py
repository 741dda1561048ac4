"""``sliceboard import …`` and ``sliceboard export …``: the client against a running server.

Imports create the dataset, model and run they name when missing; exports only read. A bar is
drawn on a terminal; the job's counts go to stdout; a failed job's issues go to stderr with
exit code 1 (2 for a command line that cannot work).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from sliceboard.client.async_client import DEFAULT_URL, AsyncClient
from sliceboard.client.errors import JobFailedError, NotFoundError, SliceboardError
from sliceboard.client.models import Dataset, ModelRun

IMPORTS = {
    "coco": "COCO ground truth (instances or person keypoints) into a dataset",
    "coco-results": "a detector's COCO results list into a model run",
    "yolo": "a YOLO folder (labels/*.txt and data.yaml or classes.txt) or its zip",
    "ndjson": "one JSON object per line, with the GraphQL inputs' field names",
}
EXPORTS = {
    "coco": "the dataset's ground truth as COCO JSON",
    "coco-results": "a run's predictions as a COCO results list",
    "ndjson": "items and annotations (and a run's predictions) as NDJSON",
    "metrics": "a run's metrics report (JSON, or CSV with --format csv / a .csv OUT)",
    "matches": "a run's match table (CSV, or Parquet with --format parquet / a .parquet OUT)",
}
#: Import formats that write a run's predictions: they need --model and --run.
RUN_REQUIRED = {"coco-results"}


def _server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--server",
        default=None,
        help=f"the server's URL (default: $SLICEBOARD_URL or {DEFAULT_URL}); "
        "the API key is read from $SLICEBOARD_API_KEY",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="seconds to wait for the job (default: no limit)",
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="draw progress bars (default: when stderr is a terminal)",
    )


def _run_options(parser: argparse.ArgumentParser, required: bool) -> None:
    parser.add_argument("--dataset", required=True, help="the dataset's name")
    parser.add_argument("--model", required=required, help="the model's referenceId")
    parser.add_argument("--run", required=required, help="the model run's name")


def add_commands(commands: Any) -> None:
    """The ``import`` and ``export`` subcommands on the CLI's subparsers."""
    importing = commands.add_parser("import", help="import a file into a running server (a job)")
    kinds = importing.add_subparsers(dest="format", required=True, metavar="FORMAT")
    for name, text in IMPORTS.items():
        parser = kinds.add_parser(name, help=text, description=text)
        parser.add_argument("file", metavar="FILE" if name != "yolo" else "DIR")
        _run_options(parser, required=name in RUN_REQUIRED)
        if name == "coco":
            parser.add_argument(
                "--images-root", default=None, help="prefix of the items' url (before file_name)"
            )
        parser.add_argument(
            "--no-update",
            action="store_true",
            help="keep rows that exist (default: replace them with the file's)",
        )
        _server_options(parser)

    exporting = commands.add_parser("export", help="export from a running server into a file")
    kinds = exporting.add_subparsers(dest="format", required=True, metavar="FORMAT")
    for name, text in EXPORTS.items():
        parser = kinds.add_parser(name, help=text, description=text)
        parser.add_argument("out", metavar="OUT")
        _run_options(parser, required=name in {"coco-results", "metrics", "matches"})
        parser.add_argument("--slice", default=None, help="only the items of this saved slice")
        parser.add_argument(
            "--filter", default=None, help="only the items of this ItemFilter (JSON)"
        )
        if name in ("metrics", "matches"):
            choices = ["json", "csv"] if name == "metrics" else ["csv", "parquet"]
            parser.add_argument("--format", dest="file_format", choices=choices, default=None)
            parser.add_argument("--iou-threshold", type=float, default=0.5)
            parser.add_argument("--confidence-threshold", type=float, default=0.0)
        _server_options(parser)


def run(args: argparse.Namespace) -> int:
    import asyncio

    if (args.model is None) != (args.run is None):
        print("sliceboard: --model and --run go together", file=sys.stderr)
        return 2
    filter_value = None
    if getattr(args, "filter", None):
        try:
            filter_value = json.loads(args.filter)
        except ValueError as exc:
            print(f"sliceboard: --filter is not JSON: {exc}", file=sys.stderr)
            return 2
    try:
        return asyncio.run(_run(args, filter_value))
    except JobFailedError as exc:
        job = exc.job
        print(
            f"sliceboard: {args.command} failed: job {job.id} ended {job.status}", file=sys.stderr
        )
        for issue in exc.issues:
            print(f"  {issue}", file=sys.stderr)
        return 1
    except (SliceboardError, OSError, ValueError) as exc:
        print(f"sliceboard: {args.command} failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _client(args: argparse.Namespace) -> AsyncClient:
    url = args.server or os.environ.get("SLICEBOARD_URL") or DEFAULT_URL
    return AsyncClient(url, os.environ.get("SLICEBOARD_API_KEY") or None, progress=args.progress)


async def _run(args: argparse.Namespace, filter_value: Any) -> int:
    async with _client(args) as client:
        if args.command == "import":
            return await _import(client, args)
        return await _export(client, args, filter_value)


async def _import(client: AsyncClient, args: argparse.Namespace) -> int:
    await client.require("Mutation", "importFile")  # before creating anything
    dataset = await client.ensure_dataset(args.dataset)
    run: ModelRun | None = None
    if args.run is not None:
        model = await client.ensure_model(args.model)
        run = await client.ensure_model_run(model, dataset, args.run)
    update = not args.no_update
    common: dict[str, Any] = {"update": update, "timeout": args.timeout, "progress": args.progress}
    if args.format == "coco":
        if run is not None:
            print(
                "sliceboard: a COCO file is ground truth; use coco-results for a run",
                file=sys.stderr,
            )
            return 2
        handle = await client.import_coco(
            args.file, dataset, images_root=args.images_root, **common
        )
    elif args.format == "coco-results":
        assert run is not None
        handle = await client.import_coco_results(args.file, run, **common)
    elif args.format == "yolo":
        handle = await client.import_yolo(args.file, dataset, run=run, **common)
    else:
        handle = await client.import_ndjson(args.file, dataset, run=run, **common)
    target = f"dataset {dataset.name!r}" + (f", run {run.name!r}" if run else "")
    print(f"imported {args.file} into {target} (job {handle.id})")
    for line in count_lines(handle.result):
        print(line)
    return 0


def count_lines(result: Any) -> list[str]:
    """``items: 5 new, 0 updated, 0 ignored`` for each kind of row in an import's result."""
    if not isinstance(result, dict):
        return [] if result is None else [json.dumps(result)]
    lines = []
    for kind, counts in result.items():
        if isinstance(counts, dict) and {"new", "updated", "ignored"} <= counts.keys():
            lines.append(
                f"{kind}: {counts['new']} new, {counts['updated']} updated, "
                f"{counts['ignored']} ignored"
            )
        else:
            lines.append(f"{kind}: {json.dumps(counts)}")
    return lines


async def _export(client: AsyncClient, args: argparse.Namespace, filter_value: Any) -> int:
    dataset = await client.dataset(name=args.dataset)
    if dataset is None:
        raise NotFoundError(f"no dataset named {args.dataset!r}")
    run = await _existing_run(client, dataset, args)
    slice_id = None
    if args.slice is not None:
        async for found in client.slices(dataset):
            if found.name == args.slice:
                slice_id = found.id
                break
        else:
            raise NotFoundError(f"no slice named {args.slice!r} in dataset {dataset.name!r}")
    options: dict[str, Any] = {}
    if args.format in ("metrics", "matches"):
        options["iou_threshold"] = args.iou_threshold
        options["confidence_threshold"] = args.confidence_threshold
    result = await client.export(
        export_format(args.format, getattr(args, "file_format", None), args.out),
        args.out,
        dataset=dataset if run is None else None,
        run=run,
        filter=filter_value,
        slice=slice_id,
        timeout=args.timeout,
        progress=args.progress,
        **options,
    )
    print(f"wrote {result.path} ({result.bytes} bytes, {result.format}; job {result.job.id})")
    return 0


async def _existing_run(
    client: AsyncClient, dataset: Dataset, args: argparse.Namespace
) -> ModelRun | None:
    if args.run is None:
        return None
    model = await client.model(reference_id=args.model)
    if model is None:
        raise NotFoundError(f"no model with referenceId {args.model!r}")
    run = await client.find_model_run(model, dataset, args.run)
    if run is None:
        raise NotFoundError(f"no run {args.run!r} of model {args.model!r} on {dataset.name!r}")
    return run


def export_format(kind: str, file_format: str | None, out: str) -> str:
    """The ExportFormat of a CLI kind: metrics and matches by --format, else OUT's suffix."""
    if kind == "metrics":
        chosen = file_format or ("csv" if out.lower().endswith(".csv") else "json")
        return f"METRICS_{chosen.upper()}"
    if kind == "matches":
        chosen = file_format or ("parquet" if out.lower().endswith(".parquet") else "csv")
        return f"MATCHES_{chosen.upper()}"
    return kind.upper().replace("-", "_")
