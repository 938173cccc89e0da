"""count ledger by time: an index on ingest_count_event.ts_ms

The boss page, the daily report's scrap and the wage sheet sum the ledger of every machine over a time
window; with only (machine_id, ts_ms) they scanned the whole ledger (7.8M rows after a year of 50 machines:
boss page p95 1.3 s, wage sheet 0.7 s on SQLite, make bench-year).

Revision ID: 0021_count_event_ts
Revises: 0020_tablet_enroll_code
Create Date: 2026-12-05 05:10:00
"""

from collections.abc import Sequence

from alembic import op


revision: str = '0021_count_event_ts'
down_revision: str | None = '0020_tablet_enroll_code'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_ingest_count_ts', 'ingest_count_event', ['ts_ms'])


def downgrade() -> None:
    op.drop_index('ix_ingest_count_ts', table_name='ingest_count_event')
