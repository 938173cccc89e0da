"""station sessions by expiry: the wage sheet's hours read a pay period's sessions, not every one since the start

A session ends when its operator signs out or, at the latest, when its token expires (`end_ms` <= `expires_ms`),
so the sessions that overlap a period are those expiring after its start. The (user, start) index had no lower
bound for that: after a year of 40 operators SQLite scanned all 29k sessions for a month's sheet (2.5 ms, and
growing every year); over (expires_ms) it reads the month's 2.4k (1.4 ms). (user_id, expires_ms) replaces
the old index: it also serves one operator's pay and closing a user's open sessions.

Revision ID: 0025_station_session_expiry
Revises: 0024_year_indexes
Create Date: 2026-12-05 17:00:00
"""

from collections.abc import Sequence

from alembic import op


revision: str = '0025_station_session_expiry'
down_revision: str | None = '0024_year_indexes'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_station_session_user_expires', 'station_session', ['user_id', 'expires_ms'])
    op.create_index('ix_station_session_expires', 'station_session', ['expires_ms'])
    op.drop_index('ix_station_session_user_start', table_name='station_session')


def downgrade() -> None:
    op.create_index('ix_station_session_user_start', 'station_session', ['user_id', 'start_ms'])
    op.drop_index('ix_station_session_expires', table_name='station_session')
    op.drop_index('ix_station_session_user_expires', table_name='station_session')
