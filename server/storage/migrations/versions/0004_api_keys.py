"""api keys: keyed hashes of API keys, their dataset limits, and the server's own secrets

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 18:45:00.000000

A key's secret is never stored: ``api_key.secret_hash`` is HMAC-SHA-256 of the key under the
server secret (``SLICEBOARD_KEY_SECRET``, or one generated once into ``server_secret``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "api_key",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("dataset_limited", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
        sa.UniqueConstraint("public_id"),
    )
    op.create_table(
        "api_key_dataset",
        sa.Column("api_key_id", ID, nullable=False),
        sa.Column("dataset_id", ID, nullable=False),
        sa.ForeignKeyConstraint(["api_key_id"], ["api_key.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["dataset_id"], ["dataset.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("api_key_id", "dataset_id"),
    )
    op.create_index(
        op.f("ix_api_key_dataset_dataset_id"), "api_key_dataset", ["dataset_id"], unique=False
    )
    op.create_table(
        "server_secret",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("server_secret")
    op.drop_index(op.f("ix_api_key_dataset_dataset_id"), table_name="api_key_dataset")
    op.drop_table("api_key_dataset")
    op.drop_table("api_key")
