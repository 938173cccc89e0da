"""edge silence: when the server marked an edge offline for missing heartbeats

Revision ID: 0017_edge_silence
Revises: 0016_pause_reason
Create Date: 2026-12-05 04:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0017_edge_silence'
down_revision: str | None = '0016_pause_reason'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('ingest_edge_status') as batch:
        batch.add_column(sa.Column('silent_ms', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('ingest_edge_status') as batch:
        batch.drop_column('silent_ms')
