"""share links: release the inspection certificate (ShareLink.show_certificate)

Revision ID: 0003_share_certificate
Revises: 0002_ingest
Create Date: 2026-11-30 07:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_share_certificate"
down_revision: str | None = "0002_ingest"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sharelink", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("show_certificate", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("sharelink", schema=None) as batch_op:
        batch_op.drop_column("show_certificate")
