"""The app starts on both engines, migrates, answers /healthz and /openapi.json, and includes every
resource's router; its lifespan builds one `Services` container that the routes share."""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, inspect

from server.api import ROUTERS
from server.core.services import services_of
from server.core.settings import Settings
from server.main import create_app
from tests.support.mosquitto import Mosquitto

SERVER = Path(__file__).resolve().parents[2] / "server"


def test_healthz_and_openapi(client: TestClient, engine: Engine) -> None:
    assert client.get("/healthz").json()["ok"] is True
    spec = client.get("/openapi.json").json()
    assert spec["info"]["title"] == "Takt"
    assert {
        "/api/v1/work-orders",
        "/api/v1/work-orders/{number}/reports",
        "/api/v1/lots/{code}/trace",
    } <= set(spec["paths"])
    assert {"workorder", "operation", "operationrun", "downtimeevent"} <= set(
        inspect(engine).get_table_names()
    )
    for router in ROUTERS:  # every resource's router is included
        paths = {"/api/v1" + route.path for route in router.routes}  # type: ignore[attr-defined]
        assert paths & set(spec["paths"]), paths


def test_healthz_names_the_site(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"ok": True, "site": "demo"}


def test_the_lifespan_builds_one_container_and_its_one_historian(
    settings: Settings, engine: Engine, mosquitto: Mosquitto
) -> None:
    live = settings.model_copy(update={"mqtt_enabled": True, "mqtt_port": mosquitto.port})
    app = create_app(live, engine=engine)
    with pytest.raises(RuntimeError, match="lifespan has not started"):
        services_of(app)
    with TestClient(app) as client:
        services = services_of(app)
        assert services.settings is live and services.engine is engine
        assert services.ingestor is not None and services.ingestor.historian is services.historian
        assert client.get("/healthz").json()["site"] == "demo"


def test_only_the_container_touches_app_state() -> None:
    """Routes get the app's services through `Depends`, not by reading `app.state` (one home for them)."""
    readers = sorted(
        str(path.relative_to(SERVER.parent))
        for path in SERVER.rglob("*.py")
        if "app.state" in path.read_text(encoding="utf-8")
    )
    assert readers == ["server/core/services.py"]
