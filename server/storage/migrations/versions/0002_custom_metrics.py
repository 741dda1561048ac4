"""custom metrics: a per-run version counter for the custom-metric column cache

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 15:45:00.000000

Every upload of custom metrics bumps ``model_run.custom_metrics_version``; each API replica
compares it (with ``data_version``, which covers per-prediction metrics) against the version of
its cached columns and reloads when they differ.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("model_run", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("custom_metrics_version", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("model_run", schema=None) as batch_op:
        batch_op.drop_column("custom_metrics_version")
