"""End-to-end fixtures: a database on each engine (SQLite file, PostgreSQL), migrated to head: the server
tests' (cloned from a template migrated once per session)."""

from tests.server.conftest import db_url, engine, pg_template, sqlite_template

__all__ = ["db_url", "engine", "pg_template", "sqlite_template"]
