"""Alert fixtures: an app on a SQLite copy of the migrated template with a fast sender (the provider tests
are about the requests, not the engine; the delivery and rule tests run on PostgreSQL too)."""

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from server.core.settings import Settings
from server.main import create_app
from tests.server.conftest import ADMIN_TOKEN

SECRET_KEY = "test-secret-key-0123456789abcdef"
FAST = {"alert_poll_s": 0.1, "alert_eval_s": 0.2, "alert_retry_base_s": 0.1, "alert_retry_max_s": 0.2,
        "alert_max_attempts": 3}  # fmt: skip


def alert_settings(db_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": db_url, "admin_token": ADMIN_TOKEN, "secret_key": SECRET_KEY, "mqtt_enabled": False,
        "argon2_time_cost": 1, "argon2_memory_kib": 1024, **FAST, **overrides,
    }  # fmt: skip
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    target = tmp_path / "takt.db"
    shutil.copyfile(sqlite_template, target)
    return f"sqlite:///{target}"


@pytest.fixture
def alert_client(sqlite_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(alert_settings(sqlite_url))) as client:
        client.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
        yield client
