"""``sliceboard serve | worker | migrate | keys | evaluate-coco | import | export``.

Imports are deferred to each command so ``evaluate-coco`` never loads the web stack, and
``import``/``export`` (clients of a running server, :mod:`sliceboard.client.commands`) never
load the web stack or the database. A setting
that cannot work ends the command with one line naming it and exit code 2; the long-running
commands configure logging once (:mod:`sliceboard.logs`) before anything else.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys

from sliceboard.config import Settings, SettingsError, redact_database_url

logger = logging.getLogger("sliceboard.cli")

# Settings that a command-line option can also give.
OPTIONS = {
    "database_url": "--database-url",
    "host": "--host",
    "port": "--port",
    "auth": "--auth",
}


def _add_database_url(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url",
        default=None,
        help="SQLAlchemy URL (default: $SLICEBOARD_DATABASE_URL or sqlite+aiosqlite:///./sliceboard.db)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sliceboard", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser(
        "serve", help="run the GraphQL server (and the in-process job runner)"
    )
    serve.add_argument(
        "--host", default=None, help="bind address (default 127.0.0.1, $SLICEBOARD_HOST)"
    )
    serve.add_argument(
        "--port", type=int, default=None, help="port (default 8000, $SLICEBOARD_PORT)"
    )
    serve.add_argument("--no-jobs", action="store_true", help="do not run jobs in this process")
    serve.add_argument(
        "--auth",
        choices=("required", "off"),
        default=None,
        help="require API keys, or serve without them (default: required when keys exist; off "
        "on a loopback bind without keys; $SLICEBOARD_AUTH)",
    )
    serve.add_argument(
        "--cors-origin",
        action="append",
        default=None,
        help="an origin whose pages may call the API (repeatable; $SLICEBOARD_CORS_ORIGINS)",
    )
    serve.add_argument(
        "--allowed-host",
        action="append",
        default=None,
        help="a Host name served (repeatable; default: loopback names on a loopback bind, "
        "else any; $SLICEBOARD_ALLOWED_HOSTS)",
    )
    serve.add_argument(
        "--media-root",
        default=None,
        help="serve item images that are not http(s) URLs from files under this folder "
        "($SLICEBOARD_MEDIA_ROOT)",
    )
    _add_database_url(serve)

    worker = commands.add_parser("worker", help="run the job runner without the HTTP server")
    _add_database_url(worker)

    migrate = commands.add_parser("migrate", help="apply database migrations")
    _add_database_url(migrate)

    from sliceboard.keys_cli import add_keys_command

    add_keys_command(commands, _add_database_url)

    commands.add_parser(
        "evaluate-coco",
        help="evaluate COCO files: GT.json DETECTIONS.json --iou-type bbox|segm|keypoints [--json]",
        add_help=False,
    )
    from sliceboard.client.commands import add_commands

    add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["evaluate-coco"]:
        from sliceboard.evaluate_coco import main as evaluate_coco

        return evaluate_coco(argv[1:])
    args = _parser().parse_args(argv)
    if args.command == "keys" and args.keys_command == "generate":
        from sliceboard.services.api_keys import new_key

        print(new_key())
        return 0
    if args.command in ("import", "export"):
        from sliceboard.client.commands import run as run_file_command

        return run_file_command(args)
    try:
        settings = _settings(args)
    except SettingsError as exc:
        option = OPTIONS.get(exc.setting)
        named = f"{exc.variable} / {option}" if option else exc.variable
        print(f"sliceboard: invalid setting {named}: {exc.problem}", file=sys.stderr)
        return 2

    from sliceboard.logs import configure_logging

    configure_logging(settings)
    problem = _unreachable(settings)
    if problem is not None:
        print(problem, file=sys.stderr)
        return 2
    if args.command == "migrate":
        return _migrate(settings)
    if args.command == "serve":
        return _serve(settings)
    if args.command == "keys":
        from sliceboard.keys_cli import run_keys

        return run_keys(args, settings)
    if args.command == "worker":
        return asyncio.run(_work(settings))
    return 2


def _unreachable(settings: Settings) -> str | None:
    """One line saying why the database cannot be used, or None when it answers."""
    from sliceboard.storage.db import unreachable

    reason = asyncio.run(unreachable(settings.database_url))
    if reason is None:
        return None
    shown = redact_database_url(settings.database_url)
    return f"sliceboard: cannot use the database {shown}: {reason}"


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings.from_env().with_overrides(database_url=args.database_url)
    if args.command == "serve":
        settings = settings.with_overrides(
            host=args.host,
            port=args.port,
            run_jobs=False if args.no_jobs else None,
            cors_origins=tuple(args.cors_origin) if args.cors_origin else None,
            allowed_hosts=tuple(args.allowed_host) if args.allowed_host else None,
            auth=args.auth,
            media_root=args.media_root,
        )
    return settings


def _migrate(settings: Settings) -> int:
    from sliceboard.storage.migrate import upgrade

    shown = redact_database_url(settings.database_url)
    logger.info("migrating %s", shown)
    upgrade(settings.database_url)
    print(f"migrated {shown}")
    return 0


def _serve(settings: Settings) -> int:
    import uvicorn

    from sliceboard.app import create_app

    refusal = asyncio.run(_auth_refusal(settings))
    if refusal is not None:
        print(refusal, file=sys.stderr)
        return 2
    logger.info("serving database %s", redact_database_url(settings.database_url))
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        # After SIGTERM, requests still running this long are cancelled (RequestDeadline
        # unwinds them), then the lifespan closes the runner, workers and database.
        timeout_graceful_shutdown=max(1, round(settings.shutdown_timeout_seconds)),
        # Our logging configuration (sliceboard.logs) formats uvicorn's records too, and
        # sliceboard.request_log logs each request, so uvicorn's access log would repeat it.
        log_config=None,
        log_level=settings.log_level.lower(),
        access_log=False,
    )
    return 0


async def _auth_refusal(settings: Settings) -> str | None:
    """The one line saying why this server must not start as configured (no API keys on a
    public address), or None. The app's lifespan settles the same again when it starts."""
    from sliceboard.authentication import Authenticator, AuthRefused
    from sliceboard.runtime import Runtime
    from sliceboard.storage.migrate import upgrade_async

    await upgrade_async(settings.database_url)
    runtime = Runtime.create(settings)
    try:
        await Authenticator(runtime).start()
    except AuthRefused as refused:
        return str(refused)
    finally:
        await runtime.close()
    return None


async def _work(settings: Settings) -> int:
    from sliceboard.jobs.runner import JobRunner
    from sliceboard.runtime import Runtime
    from sliceboard.storage.migrate import upgrade_async

    await upgrade_async(settings.database_url)
    runtime = Runtime.create(settings)
    runtime.snapshot_cache.keeps_new_evaluations = False  # this process answers no query
    runner = JobRunner(runtime)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await runner.start()
        logger.info(
            "sliceboard worker started (database %s)", redact_database_url(settings.database_url)
        )
        await stop.wait()
        await runner.stop()
    finally:
        await runtime.close()  # the job runner's worker processes, then the database
    return 0


def run() -> None:
    """The ``sliceboard`` console script. ``evaluate-coco`` leaves without interpreter teardown
    (~0.1 s of freeing numpy and parsed JSON that the OS reclaims anyway)."""
    argv = sys.argv[1:]
    code = main(argv)
    if argv[:1] == ["evaluate-coco"]:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    run()
