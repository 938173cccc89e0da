"""Alembic on both engines: an empty database upgrades to head, a database at each earlier revision
upgrades to head keeping its rows, and the migrated schema matches the models (no autogenerate diff)."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlmodel import SQLModel

import server.models  # noqa: F401  (registers every table)
from server.core.db import alembic_config, init_db, make_engine


def _diff(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, SQLModel.metadata))


def _revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def test_empty_database_to_head_matches_models(empty_db_url: str) -> None:
    engine = make_engine(empty_db_url)
    try:
        init_db(engine)
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        assert _revision(engine) == head
        assert _diff(engine) == []
        init_db(engine)  # running again is a no-op
        assert _revision(engine) == head
    finally:
        engine.dispose()


def test_upgrade_from_each_previous_revision(empty_db_url: str) -> None:
    script = ScriptDirectory.from_config(alembic_config())
    revisions = [r.revision for r in reversed(list(script.walk_revisions()))]
    assert revisions[0] == "0001_core"
    for previous in revisions[:-1]:
        engine = make_engine(empty_db_url)
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
                for table in reversed(SQLModel.metadata.sorted_tables):
                    conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{table.name}"')  # test-only fixed names
            init_db(engine, previous)
            assert _revision(engine) == previous
            with engine.begin() as conn:
                conn.execute(
                    text("INSERT INTO site (code, name, timezone) VALUES ('old', 'Old site', 'UTC')")
                )
            init_db(engine)
            assert _revision(engine) == script.get_current_head()
            with engine.connect() as conn:
                assert (
                    conn.execute(text("SELECT name FROM site WHERE code = 'old'")).scalar_one() == "Old site"
                )
            assert _diff(engine) == []
        finally:
            engine.dispose()
