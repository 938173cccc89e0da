"""sparkplug device: a Sparkplug B device mapped to a machine of another code

Revision ID: 0018_sparkplug_device
Revises: 0017_edge_silence
Create Date: 2026-12-05 04:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0018_sparkplug_device'
down_revision: str | None = '0017_edge_silence'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'sparkplug_device',
        sa.Column('edge_id', sa.String(length=64), nullable=False),
        sa.Column('device', sa.String(length=200), nullable=False),
        sa.Column('machine_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['machine_id'], ['machine.id']),
        sa.PrimaryKeyConstraint('edge_id', 'device'),
    )
    op.create_index('ix_sparkplug_device_machine_id', 'sparkplug_device', ['machine_id'])


def downgrade() -> None:
    op.drop_index('ix_sparkplug_device_machine_id', table_name='sparkplug_device')
    op.drop_table('sparkplug_device')
