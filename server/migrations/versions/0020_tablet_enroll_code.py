"""tablet enrollment: a one-time, short-lived enrollment code per link; redeeming it rotates the device token

Revision ID: 0020_tablet_enroll_code
Revises: 0019_share_link_scrap_ref
Create Date: 2026-12-05 05:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.models.types


revision: str = '0020_tablet_enroll_code'
down_revision: str | None = '0019_share_link_scrap_ref'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('tablet') as batch:
        batch.add_column(sa.Column('enroll_code_hash', sa.String(length=64), nullable=True))
        batch.add_column(
            sa.Column('enroll_expires_at', server.models.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch.create_index('ix_tablet_enroll_code_hash', ['enroll_code_hash'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('tablet') as batch:
        batch.drop_index('ix_tablet_enroll_code_hash')
        batch.drop_column('enroll_expires_at')
        batch.drop_column('enroll_code_hash')
