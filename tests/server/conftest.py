"""Server fixtures: `engine` runs every test on SQLite (tmp file) and on PostgreSQL (a fresh database),
migrated to head. `settings` are test settings (MQTT off, fast argon2); `client` wraps `create_app`.

Migrating takes seconds, so each engine's database is cloned from a template migrated once per session:
a copied SQLite file, or PostgreSQL's `CREATE DATABASE ... TEMPLATE`. `empty_db_url` gives a database
with nothing in it (for the migration tests).
"""

import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from server.core.db import init_db, make_engine
from server.core.settings import Settings
from server.main import create_app
from tests.support.postgres import ADMIN_DSN, fresh_database

ADMIN_TOKEN = "test-admin-token-0123456789abcdef"


def _migrate(url: str) -> None:
    engine = make_engine(url)
    init_db(engine)
    engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "takt.db"
    _migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """Name of a PostgreSQL database migrated to head, used only as a template."""
    with fresh_database() as url:
        _migrate(url)
        yield url.rsplit("/", 1)[1]


def _pg_clone(template: str) -> Iterator[str]:
    name = f"takt_test_{secrets.token_hex(6)}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')  # test names, not user input
    params = dict(item.split("=", 1) for item in ADMIN_DSN.split())
    try:
        yield f"postgresql+psycopg://{params['user']}@{params['host']}:{params['port']}/{name}"
    finally:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database already migrated to head, on each engine."""
    if request.param == "sqlite":
        target = tmp_path / "takt.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), target)
        yield f"sqlite:///{target}"
        return
    yield from _pg_clone(request.getfixturevalue("pg_template"))


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database (no tables), on each engine."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    url: str = request.getfixturevalue("pg_url_fresh")
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A migrated (alembic head) engine, on each of SQLite and PostgreSQL."""
    eng = make_engine(db_url)
    init_db(eng)  # a no-op at head; upgrades if the template is older than the code
    yield eng
    eng.dispose()


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(
        database_url=db_url,
        admin_token=ADMIN_TOKEN,  # type: ignore[arg-type]
        secret_key="test-secret-key-0123456789abcdef",  # type: ignore[arg-type]
        mqtt_enabled=False,
        argon2_time_cost=1,  # fast hashes for tests; production keeps argon2's defaults
        argon2_memory_kib=1024,
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture
def client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    """A TestClient on the app over `engine`, lifespan run; admin token not set on requests."""
    with TestClient(create_app(settings, engine=engine)) as test_client:
        yield test_client


@pytest.fixture
def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}
