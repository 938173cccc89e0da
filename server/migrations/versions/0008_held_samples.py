"""ingest: samples held for being stamped too far ahead of the server's clock (server/ingest/future.py)

Revision ID: 0008_held_samples
Revises: 0007_edge_registration
Create Date: 2026-12-04 22:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_held_samples"
down_revision: str | None = "0007_edge_registration"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ingest_held_sample",
        sa.Column("edge_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("received_ms", sa.BigInteger(), nullable=False),
        sa.Column("release_ms", sa.BigInteger(), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("newest_ts_ms", sa.BigInteger(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("edge_id", "seq"),
    )
    op.create_index("ix_ingest_held_sample_release_ms", "ingest_held_sample", ["release_ms"])


def downgrade() -> None:
    op.drop_index("ix_ingest_held_sample_release_ms", table_name="ingest_held_sample")
    op.drop_table("ingest_held_sample")
