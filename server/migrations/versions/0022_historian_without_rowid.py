"""sql historian on SQLite: historian_point and historian_rollup WITHOUT ROWID

A rowid table with a two-column primary key stores every row twice (the table and its primary-key index):
41 B per raw point and 42 B per rollup measured after a year (make bench-year). Clustered on the primary
key the row is stored once. PostgreSQL is unchanged (heap + primary-key index). On an existing SQLite
database the tables are copied once (about a minute per 50M points).

Revision ID: 0022_historian_without_rowid
Revises: 0021_count_event_ts
Create Date: 2026-12-05 05:15:00
"""

from collections.abc import Sequence

from alembic import op


revision: str = '0022_historian_without_rowid'
down_revision: str | None = '0021_count_event_ts'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = {
    'historian_point': ('series_id INTEGER NOT NULL, ts_ms BIGINT NOT NULL, value FLOAT NOT NULL, '
                        'PRIMARY KEY (series_id, ts_ms)'),
    'historian_rollup': ('series_id INTEGER NOT NULL, bucket_ms BIGINT NOT NULL, vmin FLOAT NOT NULL, '
                         'vmax FLOAT NOT NULL, vsum FLOAT NOT NULL, n INTEGER NOT NULL, '
                         'PRIMARY KEY (series_id, bucket_ms)'),
}


def _rebuild(suffix: str) -> None:
    if op.get_bind().dialect.name != 'sqlite':
        return
    for table, columns in TABLES.items():
        op.execute(f'CREATE TABLE {table}_new ({columns}){suffix}')
        op.execute(f'INSERT INTO {table}_new SELECT * FROM {table}')
        op.execute(f'DROP TABLE {table}')
        op.execute(f'ALTER TABLE {table}_new RENAME TO {table}')


def upgrade() -> None:
    _rebuild(' WITHOUT ROWID')


def downgrade() -> None:
    _rebuild('')
