"""custom metric revision: the run's custom_metrics_version that last wrote each row

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 23:55:00.000000

Every upload stamps the rows it inserts or replaces with the run's bumped
``custom_metrics_version``, so a cached copy of a run's metrics at version V brings itself up
to date by reading only ``revision > V`` (an index range), not the run's million rows. An
upsert keeps a row's id, so ids cannot tell a replaced row from an untouched one. Rows
written before this migration have revision 0, which every cache version covers.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("custom_metric", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revision", sa.Integer(), server_default="0", nullable=False))
        batch_op.create_index(
            "ix_custom_metric_run_revision", ["model_run_id", "revision"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("custom_metric", schema=None) as batch_op:
        batch_op.drop_index("ix_custom_metric_run_revision")
        batch_op.drop_column("revision")
