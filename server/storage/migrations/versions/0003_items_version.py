"""items version: a per-dataset counter bumped by every item upsert that writes

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 18:05:00.000000

Metric queries over a filter resolve the filter's items once per (dataset items version,
annotations version, run data version) and keep the answer; a counter that moves whenever items
are inserted or their metadata changes tells every API replica when that answer is stale.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("dataset", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("items_version", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("dataset", schema=None) as batch_op:
        batch_op.drop_column("items_version")
