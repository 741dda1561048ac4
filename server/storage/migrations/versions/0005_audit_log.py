"""audit log: one row per mutation (who, which operation, which dataset, when, outcome)

Revision ID: 0005
Revises: 0003
Create Date: 2026-12-07 19:00:00.000000

No foreign keys: an entry keeps naming a key or a dataset after it was revoked or deleted.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

IdType = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", IdType, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", IdType, nullable=True),
        sa.Column("key_name", sa.String(255), nullable=True),
        sa.Column("operation", sa.String(128), nullable=False),
        sa.Column("dataset_id", IdType, nullable=True),
        sa.Column("outcome", sa.String(64), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
    )
    op.create_index("ix_audit_log_dataset", "audit_log", ["dataset_id", "id"])
    op.create_index("ix_audit_log_key", "audit_log", ["key_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_key", table_name="audit_log")
    op.drop_index("ix_audit_log_dataset", table_name="audit_log")
    op.drop_table("audit_log")
