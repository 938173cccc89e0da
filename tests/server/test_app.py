"""The app starts on both engines, migrates, answers /healthz and /openapi.json, and includes the
optional routers of the other server parts when they exist."""

import importlib
import importlib.util

from fastapi.testclient import TestClient
from sqlalchemy import Engine, inspect

from server.main import OPTIONAL_API


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
    for name in OPTIONAL_API:
        if importlib.util.find_spec(name) is not None:
            router = importlib.import_module(name).router
            paths = {"/api/v1" + route.path for route in router.routes}
            assert paths & set(spec["paths"]), name
