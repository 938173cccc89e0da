"""piece-rate pay: rates, skill levels, hours on the station, wage adjustments, closed pay periods

Revision ID: 0013_piece_rates
Revises: 0012_alerts
Create Date: 2026-12-05 00:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import server.models.types

revision: str = "0013_piece_rates"
down_revision: str | None = "0012_alerts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "piece_rate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("step_no", sa.Integer(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("rate_e4", sa.Integer(), nullable=False),
        sa.Column("skill_level", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("team", sa.Boolean(), nullable=False),
        sa.Column("scrap_rule", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("material_share_pct", sa.Integer(), nullable=False),
        sa.Column("material_reasons", sqlmodel.sql.sqltypes.AutoString(length=400), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("created_at", server.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["product_id"], ["product.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("product_id", "step_no", "skill_level", "effective_from", name="uq_piece_rate_key"),
    )
    op.create_index("ix_piece_rate_product_id", "piece_rate", ["product_id"])
    op.create_table(
        "operator_skill",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("level", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.create_table(
        "station_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("end_ms", sa.BigInteger(), nullable=True),
        sa.Column("expires_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["station_id"], ["station.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_station_session_user_start", "station_session", ["user_id", "start_ms"])
    op.create_table(
        "wage_adjustment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("amount_e4", sa.Integer(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=400), nullable=False),
        sa.Column("author", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("created_at", server.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_wage_adjustment_period", "wage_adjustment", ["period_start", "user_id"])
    op.create_table(
        "pay_period",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("end", sa.Date(), nullable=False),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("end_ms", sa.BigInteger(), nullable=False),
        sa.Column("closed_at", server.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("start"),
    )


def downgrade() -> None:
    op.drop_table("pay_period")
    op.drop_index("ix_wage_adjustment_period", table_name="wage_adjustment")
    op.drop_table("wage_adjustment")
    op.drop_index("ix_station_session_user_start", table_name="station_session")
    op.drop_table("station_session")
    op.drop_table("operator_skill")
    op.drop_index("ix_piece_rate_product_id", table_name="piece_rate")
    op.drop_table("piece_rate")
