"""file jobs: row progress, a result, issues and a download token on the job row

Revision ID: 0006
Revises: 0003
Create Date: 2026-12-07 18:50:00.000000

Imports and exports run as jobs: an import reports rows done of rows total and ends with its
counts (``result``) or with the issues that failed it; an export ends with a download whose
unguessable token is looked up on its own unique index when the file is fetched.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_TYPE = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rows_done", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("rows_total", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("result", JSON_TYPE, nullable=True))
        batch_op.add_column(sa.Column("issues", JSON_TYPE, nullable=True))
        batch_op.add_column(sa.Column("download_token", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_job_download_token", ["download_token"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_index("ix_job_download_token")
        batch_op.drop_column("download_token")
        batch_op.drop_column("issues")
        batch_op.drop_column("result")
        batch_op.drop_column("rows_total")
        batch_op.drop_column("rows_done")
