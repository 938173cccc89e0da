"""edge status: the connection number and the status's number in it, that order an edge's statuses

Revision ID: 0006_edge_status_session
Revises: 0005_counting_anomalies
Create Date: 2026-12-04 21:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_edge_status_session"
down_revision: str | None = "0005_counting_anomalies"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ingest_edge_status", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("status_n", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ingest_edge_status", schema=None) as batch_op:
        batch_op.drop_column("status_n")
        batch_op.drop_column("session")
