"""The app starts on both engines, migrates, answers /healthz and /openapi.json, and includes every
resource's router."""

from fastapi.testclient import TestClient
from sqlalchemy import Engine, inspect

from server.api import ROUTERS


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
