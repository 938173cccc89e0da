"""counting: counter meaning on tags (direction, reset value, parts per cycle), products' parts per cycle,
counters' learned rate, count anomalies held for a supervisor (held, status, resolution)

Revision ID: 0005_counting_anomalies
Revises: 0004_edge_times_and_data_loss
Create Date: 2026-12-04 21:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_counting_anomalies"
down_revision: str | None = "0004_edge_times_and_data_loss"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tag", schema=None) as batch_op:
        batch_op.add_column(sa.Column("direction", sa.String(length=8), nullable=False, server_default="up"))
        batch_op.add_column(
            sa.Column("reset_value", sa.BigInteger(), nullable=False, server_default=sa.text("0"))
        )
        batch_op.add_column(sa.Column("parts_per_cycle", sa.Integer(), nullable=True))
    with op.batch_alter_table("product", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parts_per_cycle", sa.Integer(), nullable=True))
    with op.batch_alter_table("ingest_signal_state", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rate", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("window_ms", sa.BigInteger(), nullable=True))
        batch_op.add_column(
            sa.Column("window_parts", sa.BigInteger(), nullable=False, server_default=sa.text("0"))
        )
    with op.batch_alter_table("ingest_counter_anomaly", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=16), nullable=False, server_default="quarantine")
        )
        batch_op.add_column(sa.Column("role", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("held", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("status", sa.String(length=16), nullable=False, server_default="open"))
        batch_op.add_column(sa.Column("resolved_by", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("resolved_ms", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("operation_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("good", sa.BigInteger(), nullable=False, server_default=sa.text("0")))
        batch_op.add_column(sa.Column("scrap", sa.BigInteger(), nullable=False, server_default=sa.text("0")))
        batch_op.create_index("ix_ingest_counter_anomaly_status", ["status"], unique=False)
        batch_op.create_foreign_key(
            "fk_ingest_counter_anomaly_operation", "operation", ["operation_id"], ["id"]
        )
    # quarantines recorded before anomalies held anything: nothing to confirm
    op.execute(
        "UPDATE ingest_counter_anomaly SET status = 'dismissed', resolved_by = 'migration' WHERE held IS NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("ingest_counter_anomaly", schema=None) as batch_op:
        batch_op.drop_constraint("fk_ingest_counter_anomaly_operation", type_="foreignkey")
        batch_op.drop_index("ix_ingest_counter_anomaly_status")
        for name in ("scrap", "good", "operation_id", "resolved_ms", "resolved_by", "status", "held", "role",
                     "kind"):  # fmt: skip
            batch_op.drop_column(name)
    with op.batch_alter_table("ingest_signal_state", schema=None) as batch_op:
        for name in ("window_parts", "window_ms", "rate"):
            batch_op.drop_column(name)
    with op.batch_alter_table("product", schema=None) as batch_op:
        batch_op.drop_column("parts_per_cycle")
    with op.batch_alter_table("tag", schema=None) as batch_op:
        for name in ("parts_per_cycle", "reset_value", "direction"):
            batch_op.drop_column(name)
