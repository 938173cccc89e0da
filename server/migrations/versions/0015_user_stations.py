"""auth: the stations an operator is assigned to (user_station)

An operator signed in by password or API token now acts only on its assigned stations' operations; an
upgrade assigns none (an admin assigns them: PUT /api/v1/users/{username}/stations).

Revision ID: 0015_user_stations
Revises: 0014_sales_share_links
Create Date: 2026-12-05 00:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_user_stations"
down_revision: str | None = "0014_sales_share_links"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "user_station",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["station_id"], ["station.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("user_id", "station_id"),
    )
    op.create_index(op.f("ix_user_station_station_id"), "user_station", ["station_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_user_station_station_id"), table_name="user_station")
    op.drop_table("user_station")
