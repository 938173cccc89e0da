"""ingest: the server's receipt time on the count ledger; data-loss episodes; edges' disk-full errors

Revision ID: 0004_edge_times_and_data_loss
Revises: 0003_share_certificate
Create Date: 2026-11-30 07:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_edge_times_and_data_loss"
down_revision: str | None = "0003_share_certificate"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ingest_count_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("received_ms", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("ingest_edge_status", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("disk_full_errors", sa.BigInteger(), nullable=False, server_default=sa.text("0"))
        )
    op.create_table(
        "ingest_data_loss",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("edge_id", sa.String(length=64), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("first_ms", sa.BigInteger(), nullable=False),
        sa.Column("last_ms", sa.BigInteger(), nullable=False),
        sa.Column("samples", sa.JSON(), nullable=True),
        sa.Column("from_ms", sa.BigInteger(), nullable=True),
        sa.Column("to_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_ingest_data_loss_edge_last", "ingest_data_loss", ["edge_id", "last_ms"])


def downgrade() -> None:
    op.drop_index("ix_ingest_data_loss_edge_last", table_name="ingest_data_loss")
    op.drop_table("ingest_data_loss")
    with op.batch_alter_table("ingest_edge_status", schema=None) as batch_op:
        batch_op.drop_column("disk_full_errors")
    with op.batch_alter_table("ingest_count_event", schema=None) as batch_op:
        batch_op.drop_column("received_ms")
