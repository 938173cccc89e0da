"""Real `takt server` replicas as child processes sharing one MQTT subscription and one database.

Each replica has its own HTTP port and its own MQTT client id (its broker session), and subscribes to
`$share/takt/...` (TAKT_MQTT_SHARED=true), as docs/scale-out.md tells an operator to run them. The
database must be migrated before they start (`takt server migrate` once, not from every replica).
"""

import json
import signal
import time
import urllib.request
from pathlib import Path
from typing import Any

from tests.support.ports import free_port
from tests.support.processes import TaktProcess

ADMIN_TOKEN = "scaleout-admin-token-0123456789abcdef"


class ServerReplica:
    """One `takt server` process; kill() is a SIGKILL, restart() keeps its port and client id."""

    def __init__(self, name: str, workdir: Path, db_url: str, broker_port: int, extra_env: dict[str, str]):
        self.name = name
        self.port = free_port()
        env = {
            "TAKT_DATABASE_URL": db_url,
            "TAKT_SECRET_KEY": "scaleout-secret-key-0123456789abcdef",
            "TAKT_ADMIN_TOKEN": ADMIN_TOKEN,
            "TAKT_MQTT_HOST": "127.0.0.1",
            "TAKT_MQTT_PORT": str(broker_port),
            "TAKT_MQTT_SHARED": "true",
            "TAKT_MQTT_CLIENT_ID": f"takt-{name}",
            "TAKT_SITE": "demo",
            **extra_env,
        }
        args = ["server", "--port", str(self.port), "--log-level", "warning"]
        self.process = TaktProcess(args, workdir / f"{name}.log", env=env)

    def start(self) -> None:
        self.process.start()

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Until the replica serves HTTP and its MQTT subscription is in place."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.process.alive():
                raise RuntimeError(f"{self.name} exited:\n{self.process.output()[-3000:]}")
            try:
                if self.stats().get("connected"):
                    return
            except (OSError, ValueError):
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} not ready in {timeout} s:\n{self.process.output()[-3000:]}")

    def stats(self) -> dict[str, Any]:
        """This replica's own ingestion counters (GET /api/v1/ingest/stats)."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/api/v1/ingest/stats",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            data: dict[str, Any] = json.loads(response.read())
        return data

    def kill(self) -> None:
        self.process.kill()

    def stop(self) -> None:
        """SIGTERM, as systemd, compose or an orchestrator stops a replica."""
        self.process.stop(sig=signal.SIGTERM)

    def alive(self) -> bool:
        return self.process.alive()


def start_replicas(
    count: int, workdir: Path, db_url: str, broker_port: int, extra_env: dict[str, str] | None = None
) -> list[ServerReplica]:
    """Start `count` replicas at once (their imports overlap) and wait until each is subscribed."""
    replicas = [
        ServerReplica(f"replica-{i + 1}", workdir, db_url, broker_port, extra_env or {}) for i in range(count)
    ]
    try:
        for replica in replicas:
            replica.start()
        for replica in replicas:
            replica.wait_ready()
    except BaseException:
        stop_all(replicas)
        raise
    return replicas


def stop_all(replicas: list[ServerReplica]) -> None:
    for replica in replicas:
        replica.stop()
