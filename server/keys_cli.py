"""``sliceboard keys create | list | revoke | generate``: API keys from the command line, against
the database directly (the server need not run; a running one sees a revocation within
``SLICEBOARD_KEY_CACHE_SECONDS``).

    keys create --name NAME --scope read|write|admin [--dataset NAME ...] [--expires 90d]
    keys list                      never shows a secret
    keys revoke NAME_OR_ID
    keys generate                  a fresh well-formed key, stored nowhere (for
                                   SLICEBOARD_BOOTSTRAP_ADMIN_KEY)
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from typing import Any

from sliceboard.config import Settings
from sliceboard.errors import InvalidInput, SliceboardError
from sliceboard.principal import SCOPES


def add_keys_command(
    commands: Any, add_database_url: Callable[[argparse.ArgumentParser], None]
) -> None:
    keys = commands.add_parser("keys", help="create, list and revoke API keys")
    actions = keys.add_subparsers(dest="keys_command", required=True)
    create = actions.add_parser("create", help="create a key and print its secret once")
    create.add_argument("--name", required=True, help="a unique name, e.g. ci-uploader")
    create.add_argument("--scope", required=True, choices=SCOPES)
    create.add_argument(
        "--dataset",
        action="append",
        default=None,
        help="limit the key to this dataset (by name; repeatable)",
    )
    create.add_argument("--expires", default=None, help="lifetime such as 90d, 12h or 30m")
    add_database_url(create)
    listing = actions.add_parser("list", help="list keys (never their secrets)")
    add_database_url(listing)
    revoke = actions.add_parser("revoke", help="revoke a key by name or id")
    revoke.add_argument("key", help="the key's name or id")
    add_database_url(revoke)
    actions.add_parser("generate", help="print a fresh key without storing it")


def run_keys(args: argparse.Namespace, settings: Settings) -> int:
    try:
        return asyncio.run(_run(args, settings))
    except InvalidInput as exc:
        for issue in exc.issues:
            print(f"sliceboard: {issue.path}: {issue.message}", file=sys.stderr)
        return 2
    except SliceboardError as exc:
        print(f"sliceboard: {exc.message}", file=sys.stderr)
        return 2


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    from sliceboard.runtime import Runtime
    from sliceboard.storage.migrate import upgrade_async

    await upgrade_async(settings.database_url)
    runtime = Runtime.create(settings)
    try:
        if args.keys_command == "create":
            return await _create(runtime, args)
        if args.keys_command == "list":
            return await _list(runtime)
        return await _revoke(runtime, args.key)
    finally:
        await runtime.close()


async def _create(runtime: Any, args: argparse.Namespace) -> int:
    from sliceboard.services import api_keys
    from sliceboard.storage.tables import utcnow

    expires_at = (
        utcnow() + api_keys.parse_duration(args.expires, "--expires") if args.expires else None
    )
    async with runtime.unit_of_work() as session:
        secret = await api_keys.server_secret(session, configured=runtime.settings.key_secret)
        dataset_ids = (
            await api_keys.dataset_ids_for_names(session, names=args.dataset)
            if args.dataset
            else None
        )
        stored, plaintext = await api_keys.create_api_key(
            session,
            secret=secret,
            name=args.name,
            scope=args.scope,
            dataset_ids=dataset_ids,
            expires_at=expires_at,
        )
    print(plaintext)
    print(
        f"created key {stored.row.name!r} (id {stored.row.id}, scope {stored.row.scope}); "
        "the secret above is shown only now",
        file=sys.stderr,
    )
    return 0


async def _list(runtime: Any) -> int:
    from sliceboard.services import api_keys

    rows: list[api_keys.StoredKey] = []
    after: int | None = None
    async with runtime.reading() as session:
        while True:
            page = await api_keys.page_api_keys(session, after_id=after, limit=100)
            rows.extend(page.rows)
            if not page.has_next:
                break
            after = page.rows[-1].id
    print("ID\tNAME\tSCOPE\tDATASETS\tPREFIX\tCREATED\tEXPIRES\tREVOKED")
    for key in rows:
        row = key.row
        datasets = "all" if key.dataset_ids is None else ",".join(map(str, key.dataset_ids)) or "-"
        print(
            "\t".join(
                [
                    str(row.id),
                    row.name,
                    row.scope,
                    datasets,
                    f"{api_keys.PREFIX}{row.public_id}_",
                    _when(row.created_at),
                    _when(row.expires_at),
                    _when(row.revoked_at),
                ]
            )
        )
    return 0


async def _revoke(runtime: Any, key: str) -> int:
    from sliceboard.errors import NotFound
    from sliceboard.services import api_keys

    async with runtime.unit_of_work() as session:
        try:
            key_id = await api_keys.key_id_by_name(session, name=key)
        except NotFound:
            key_id = key  # not a name: an id
        stored = await api_keys.revoke_api_key(session, key_id=key_id, path="key")
    print(f"revoked key {stored.row.name!r} (id {stored.row.id})")
    return 0


def _when(moment: Any) -> str:
    return "-" if moment is None else moment.isoformat(timespec="seconds")
