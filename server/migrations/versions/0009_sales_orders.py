"""sales orders: the customer's PO, its lines and the work orders that make each line

Revision ID: 0009_sales_orders
Revises: 0008_held_samples
Create Date: 2026-12-05 00:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import server.models.types

revision: str = "0009_sales_orders"
down_revision: str | None = "0008_held_samples"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sales_order",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("po_number", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("po_date", sa.Date(), nullable=True),
        sa.Column("notes", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("created_at", server.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("customer_id", "po_number", name="uq_sales_order_customer_po"),
    )
    op.create_index("ix_sales_order_customer_id", "sales_order", ["customer_id"])
    op.create_table(
        "sales_order_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sales_order_id", sa.Integer(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("unit_price_e4", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["product_id"], ["product.id"]),
        sa.ForeignKeyConstraint(["sales_order_id"], ["sales_order.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sales_order_id", "line_no", name="uq_sales_line_order_no"),
    )
    op.create_index("ix_sales_order_line_sales_order_id", "sales_order_line", ["sales_order_id"])
    op.create_table(
        "sales_line_work_order",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["line_id"], ["sales_order_line.id"]),
        sa.ForeignKeyConstraint(["work_order_id"], ["workorder.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("work_order_id"),
    )
    op.create_index("ix_sales_line_work_order_line_id", "sales_line_work_order", ["line_id"])


def downgrade() -> None:
    op.drop_index("ix_sales_line_work_order_line_id", table_name="sales_line_work_order")
    op.drop_table("sales_line_work_order")
    op.drop_index("ix_sales_order_line_sales_order_id", table_name="sales_order_line")
    op.drop_table("sales_order_line")
    op.drop_index("ix_sales_order_customer_id", table_name="sales_order")
    op.drop_table("sales_order")
