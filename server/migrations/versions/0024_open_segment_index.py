"""machine_state_segment: partial index on the open segments

Ingestion looks up every sampled machine's open segment in each transaction. With the partial index that is
one query per transaction over a handful of index rows, however many years of segments the table holds
(py-spy put about 15 % of the server's steady-state work in the per-machine lookups, bench_steady).

Revision ID: 0024_open_segment_index
Revises: 0023_count_hour
Create Date: 2026-12-05 12:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0024_open_segment_index'
down_revision: str | None = '0023_count_hour'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text('end_ms IS NULL')


def upgrade() -> None:
    op.create_index('ix_machine_state_segment_open', 'machine_state_segment', ['machine_id'],
                    sqlite_where=OPEN, postgresql_where=OPEN)


def downgrade() -> None:
    op.drop_index('ix_machine_state_segment_open', table_name='machine_state_segment')
