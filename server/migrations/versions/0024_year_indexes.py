"""indexes for a year of data: open state segments, a plan's newest inspection records, unclassified stops

- machine_state_segment: a partial index on the open segments. Ingestion looks up every sampled machine's
  open segment in each transaction; with it that is one query over a handful of index rows, however many
  years of segments the table holds (py-spy put about 15 % of the server's steady-state work in the
  per-machine lookups, bench_steady).
- inspectionrecord (plan_id, created_at): SPC charts read a plan's newest records; without it a year of
  patrol checks (22k records a plan) was sorted for every chart on the boss page.
- downtimeevent: a partial index on the stops without a reason. Each tablet's state.json asks for its
  machine's newest one; once every stop is classified, that walked the machine's whole downtime history.

Revision ID: 0024_year_indexes
Revises: 0023_count_hour
Create Date: 2026-12-05 12:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0024_year_indexes'
down_revision: str | None = '0023_count_hour'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text('end_ms IS NULL')
UNCLASSIFIED = sa.text('reason_code IS NULL')


def upgrade() -> None:
    op.create_index('ix_machine_state_segment_open', 'machine_state_segment', ['machine_id'],
                    sqlite_where=OPEN, postgresql_where=OPEN)
    op.create_index('ix_inspectionrecord_plan_created', 'inspectionrecord', ['plan_id', 'created_at'])
    op.create_index('ix_downtime_unclassified', 'downtimeevent', ['machine_id', 'start_ms'],
                    sqlite_where=UNCLASSIFIED, postgresql_where=UNCLASSIFIED)


def downgrade() -> None:
    op.drop_index('ix_downtime_unclassified', table_name='downtimeevent')
    op.drop_index('ix_inspectionrecord_plan_created', table_name='inspectionrecord')
    op.drop_index('ix_machine_state_segment_open', table_name='machine_state_segment')
