"""A real `takt server` process for the bad-input and security cases: its own mosquitto (with a password the
server logs in with), SQLite in a temporary folder, debug logging captured to a file, a seeded plant.

    def test_x(real_server: RealServer) -> None:
        real_server.http.get("/api/v1/work-orders", headers=real_server.plant.as_("operator"))

One server per test module (`real_server` fixture): tests share its state, so use fresh order numbers.
"""

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from tests.server.conftest import ADMIN_TOKEN
from tests.server.factory import Plant, build_plant, ok
from tests.support.mosquitto import Mosquitto
from tests.support.ports import free_port
from tests.support.processes import TaktProcess

MAX_BODY_BYTES = 4096


@dataclass
class RealServer:
    base: str
    port: int
    process: TaktProcess
    http: httpx.Client
    plant: Plant
    secrets: dict[str, str] = field(default_factory=dict)  # name -> value that must never be logged

    def log(self) -> str:
        return self.process.output()


def _wait_healthy(process: TaktProcess, base: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.alive(), f"takt server exited during start:\n{process.output()}"
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"takt server not healthy within {timeout} s:\n{process.output()}")


@pytest.fixture(scope="module")
def real_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealServer]:
    tmp = tmp_path_factory.mktemp("real-server")
    broker = Mosquitto(tmp / "mosquitto")
    broker.start()
    port = free_port()
    values = {
        "admin_token": ADMIN_TOKEN,  # the one tests/server/factory.py's build_plant uses
        "secret_key": "key-" + secrets.token_urlsafe(24),
        "mqtt_password": "mqtt-" + secrets.token_urlsafe(12),
    }
    env = {
        "TAKT_DATABASE_URL": f"sqlite:///{tmp / 'takt.db'}",
        "TAKT_SECRET_KEY": values["secret_key"],
        "TAKT_ADMIN_TOKEN": values["admin_token"],
        "TAKT_DEMO_MODE": "false",
        "TAKT_MQTT_PORT": str(broker.port),
        "TAKT_MQTT_USERNAME": "takt-server",
        "TAKT_MQTT_PASSWORD": values["mqtt_password"],
        "TAKT_MQTT_CLIENT_ID": f"faults-{port}",
        "TAKT_MAX_BODY_BYTES": str(MAX_BODY_BYTES),
        "TAKT_SIGNIN_RATE_BURST": "10000",  # every sign-in here comes from one address (see test_signin.py)
        "TAKT_SIGNIN_RATE_PER_MINUTE": "10000",
        "TAKT_ARGON2_TIME_COST": "1",  # argon2 still, with cheap parameters
        "TAKT_ARGON2_MEMORY_KIB": "1024",
        "TAKT_DATA_DIR": str(tmp / "data"),
        "TAKT_SHARE_RATE_BURST": "30",
        "TAKT_SIGNIN_MAX_FAILURES": "3",
    }
    process = TaktProcess(["server", "--port", str(port), "--log-level", "debug"], tmp / "server.log", env)
    process.start()
    base = f"http://127.0.0.1:{port}"
    http = httpx.Client(base_url=base, timeout=30)
    try:
        _wait_healthy(process, base)
        plant = build_plant(http)  # type: ignore[arg-type]
        yield RealServer(base, port, process, http, plant, values)
    finally:
        http.close()
        process.stop()
        broker.stop()


def enroll_tablet(server: RealServer, station: str = "st-lathe-1", name: str = "tab") -> str:
    """Enroll a tablet at `station` through the API; return its device token."""
    body = {"station": station, "name": name}
    answer = ok(server.http.post("/api/v1/tablets", json=body, headers=server.plant.as_("admin")), 201)
    token: str = answer["device_token"]
    server.secrets[f"device:{name}"] = token
    return token


def enroll_link(server: RealServer, station: str = "st-lathe-1", name: str = "tab") -> str:
    """A new tablet at `station`: the path of its one-time enrollment link (its code kept as a secret)."""
    body = {"station": station, "name": name}
    answer = ok(server.http.post("/api/v1/tablets", json=body, headers=server.plant.as_("admin")), 201)
    path = "/station/" + str(answer["enroll_url"]).split("/station/", 1)[1]
    server.secrets[f"enroll:{name}"] = path.split("token=", 1)[1]
    return path
