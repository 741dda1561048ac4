"""Apply the alembic migrations: the only way the schema is created."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
DATABASE_URL = "sliceboard.database_url"


def alembic_config(database_url: str) -> Config:
    """The URL travels as an attribute, not a config option: options go through configparser,
    which fails on the ``%`` of a percent-encoded password and shows the whole URL in its error."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes[DATABASE_URL] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database to ``revision``; safe to run on every start."""
    command.upgrade(alembic_config(database_url), revision)


async def upgrade_async(database_url: str, revision: str = "head") -> None:
    # alembic's env runs its own event loop, so it gets a thread of its own.
    await asyncio.to_thread(upgrade, database_url, revision)
