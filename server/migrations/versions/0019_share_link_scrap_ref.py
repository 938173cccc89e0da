"""share links: the factory chooses whether scrap shows; the customer's reference on top

Revision ID: 0019_share_link_scrap_ref
Revises: 0018_sparkplug_device
Create Date: 2026-12-05 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0019_share_link_scrap_ref'
down_revision: str | None = '0018_sparkplug_device'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('sharelink') as batch:
        # links made before keep showing scrap, as they did; new ones hide it unless the factory says so
        batch.add_column(sa.Column('show_scrap', sa.Boolean(), nullable=False, server_default=sa.true()))
        batch.add_column(sa.Column('customer_ref', sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('sharelink') as batch:
        batch.drop_column('customer_ref')
        batch.drop_column('show_scrap')
