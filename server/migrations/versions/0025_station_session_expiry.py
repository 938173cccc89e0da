"""station sessions by expiry: the wage sheet's hours read a pay period's sessions, not every one since the start

A session ends when its operator signs out or, at the latest, when its token expires (`end_ms` <= `expires_ms`),
so the sessions that overlap a period are those expiring after its start. The (user, start) index had no lower
bound for that: after a year each wage sheet read ~30k sessions. (user_id, expires_ms) replaces it (it also
serves closing a user's open sessions); (expires_ms) serves the sheet of every operator.

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
