"""indexes for the boss page after a year: stops by their end, operations by their status

- downtimeevent (end_ms): a window's stops are those with `start_ms < high` and an end after `low` (or
  none). Over (machine_id, start_ms) that is bounded from above only, so the boss page's one-day
  scorecard read all 36.5k stops of a 50-machine year (7.4 ms on SQLite; 0.4 ms with a day). Over the
  end it reads the stops ending after `low` and the open ones: 0.2 ms for today, however long the
  history. Stops may overlap (manual entries), so the newest-before lookup state segments use would not do.
- operation (status): the running and paused operations (the boss page's running jobs and inspections due)
  were found by scanning every operation ever made (16k after a year).

Revision ID: 0026_downtime_end_op_status
Revises: 0025_station_session_expiry
Create Date: 2026-12-05 19:00:00
"""

from collections.abc import Sequence

from alembic import op


revision: str = '0026_downtime_end_op_status'
down_revision: str | None = '0025_station_session_expiry'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_downtime_end', 'downtimeevent', ['end_ms'])
    op.create_index('ix_operation_status', 'operation', ['status'])


def downgrade() -> None:
    op.drop_index('ix_operation_status', table_name='operation')
    op.drop_index('ix_downtime_end', table_name='downtimeevent')
