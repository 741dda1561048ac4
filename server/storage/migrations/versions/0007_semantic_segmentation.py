"""semantic segmentation: stored label maps and each dataset's ignore index

Revision ID: 0007
Revises: 0003
Create Date: 2026-12-07 18:45:00.000000

Semantic masks (issue 15) are stored once each in ``label_map``, keyed by the digest of their
pixels; annotation and prediction rows name that digest in their geometry. A dataset's
``segmentation_ignore_index`` (default 0, "unlabelled") is the mask index excluded from the
metrics.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "label_map",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("digest"),
    )
    with op.batch_alter_table("dataset", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("segmentation_ignore_index", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("dataset", schema=None) as batch_op:
        batch_op.drop_column("segmentation_ignore_index")
    op.drop_table("label_map")
