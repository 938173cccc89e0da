"""The plant simulator in a child process on free ports, with its HTTP control API."""

import json
import time
import urllib.request
from pathlib import Path
from typing import Any

from tests.support.ports import free_port
from tests.support.processes import ROOT, TaktProcess

DEMO_PLANT = ROOT / "simulators" / "plants" / "demo.yaml"


class Simulator:
    """`takt sim` on free ports. Ports are kept across restart() so clients can reconnect."""

    def __init__(
        self, workdir: Path, config: Path = DEMO_PLANT, accel: float = 1.0, extra: list[str] | None = None
    ):
        self.workdir = workdir
        self.config = config
        self.opcua_port = free_port()
        self.modbus_port = free_port()
        self.http_port = free_port()
        self.ground_truth_file = workdir / "ground_truth.json"
        args = [
            "sim", "--config", str(config),
            "--opcua-port", str(self.opcua_port),
            "--modbus-port", str(self.modbus_port),
            "--http-port", str(self.http_port),
            "--accel", str(accel),
            "--ground-truth", str(self.ground_truth_file),
            *(extra or []),
        ]  # fmt: skip
        if "--state-dir" not in args:  # certificates per test, not in the repo's var/
            args += ["--state-dir", str(workdir / "state")]
        self.process = TaktProcess(args, workdir / "sim.log")

    @property
    def opcua_endpoint(self) -> str:
        return f"opc.tcp://127.0.0.1:{self.opcua_port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self, timeout: float = 30) -> None:
        self.process.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.process.alive():
                raise RuntimeError(f"simulator exited:\n{self.process.output()}")
            try:
                if self.get("/healthz").get("ready"):
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"simulator not ready in {timeout} s:\n{self.process.output()}")

    def stop(self) -> None:
        self.process.stop()

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.http_url + path, timeout=5) as resp:
            return json.loads(resp.read())

    def post(self, path: str, body: dict[str, Any]) -> Any:
        request = urllib.request.Request(
            self.http_url + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            return json.loads(resp.read())

    def ground_truth(self) -> Any:
        return self.get("/ground-truth")
