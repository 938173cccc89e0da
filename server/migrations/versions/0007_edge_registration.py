"""ingest: edge registrations (approved, pending approval, revoked)

Every edge id that owns a machine or was already ingesting is registered as approved, so an upgrade
stops nobody; a machine without an edge is given the one edge that ever counted on it (if exactly one),
since from now on an edge publishes only the machines it owns.

Revision ID: 0007_edge_registration
Revises: 0006_edge_status_session
Create Date: 2026-12-04 21:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_edge_registration"
down_revision: str | None = "0006_edge_status_session"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ingest_edge_registration",
        sa.Column("edge_id", sa.String(length=64), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("first_seen_ms", sa.BigInteger(), nullable=True),
        sa.Column("changed_ms", sa.BigInteger(), nullable=True),
        sa.Column("changed_by", sa.String(length=100), nullable=True),
        sa.Column("announced", sa.JSON(), nullable=True),
        sa.Column("refused", sa.BigInteger(), nullable=False, server_default=sa.text("0")),
        sa.Column("last_refused_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("edge_id"),
    )
    op.execute(
        "UPDATE machine SET edge_id = (SELECT MIN(c.edge_id) FROM ingest_count_event c"
        " WHERE c.machine_id = machine.id)"
        " WHERE edge_id IS NULL AND (SELECT COUNT(DISTINCT c.edge_id) FROM ingest_count_event c"
        " WHERE c.machine_id = machine.id) = 1"
    )
    op.execute(
        "INSERT INTO ingest_edge_registration (edge_id, site, state, changed_by, refused)"
        " SELECT c.edge_id, c.site, 'approved', 'migration', 0 FROM ingest_edge_cursor c"
    )
    op.execute(
        "INSERT INTO ingest_edge_registration (edge_id, site, state, changed_by, refused)"
        " SELECT m.edge_id, MIN(s.code), 'approved', 'migration', 0 FROM machine m JOIN site s ON s.id = m.site_id"
        " WHERE m.edge_id IS NOT NULL AND m.edge_id NOT IN (SELECT edge_id FROM ingest_edge_registration)"
        " GROUP BY m.edge_id"
    )


def downgrade() -> None:
    op.drop_table("ingest_edge_registration")
