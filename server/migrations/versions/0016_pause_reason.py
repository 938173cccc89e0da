"""pause reason: why the operator paused an operation, on the run the pause closed

Revision ID: 0016_pause_reason
Revises: 0015_user_stations
Create Date: 2026-12-05 00:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0016_pause_reason'
down_revision: str | None = '0015_user_stations'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('operationrun') as batch:
        batch.add_column(sa.Column('pause_reason', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('operationrun') as batch:
        batch.drop_column('pause_reason')
