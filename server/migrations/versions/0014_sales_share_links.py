"""share links for a whole sales order: sharelink.sales_order_id, work_order_id optional

Revision ID: 0014_sales_share_links
Revises: 0013_piece_rates
Create Date: 2026-12-05 00:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_sales_share_links"
down_revision: str | None = "0013_piece_rates"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sharelink", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sales_order_id", sa.Integer(), nullable=True))
        batch_op.alter_column("work_order_id", existing_type=sa.Integer(), nullable=True)
        batch_op.create_index("ix_sharelink_sales_order_id", ["sales_order_id"], unique=False)
        batch_op.create_foreign_key("fk_sharelink_sales_order_id", "sales_order", ["sales_order_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("sharelink", schema=None) as batch_op:
        batch_op.drop_constraint("fk_sharelink_sales_order_id", type_="foreignkey")
        batch_op.drop_index("ix_sharelink_sales_order_id")
        batch_op.alter_column("work_order_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("sales_order_id")
