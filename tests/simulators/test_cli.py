"""`takt sim` on the demo plant as a user runs it: logs its endpoints, serves, stops cleanly on SIGINT
and leaves the ground-truth file; the HTTP API rejects bad requests clearly."""

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.support.ports import free_port
from tests.support.processes import ROOT


def call(url: str, body: dict[str, object] | None = None) -> tuple[int, dict[str, object]]:
    data = json.dumps(body).encode() if body is not None else None
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_demo_plant_runs_logs_endpoints_and_stops_on_sigint(tmp_path: Path) -> None:
    ports = {"opcua": free_port(), "modbus": free_port(), "http": free_port()}
    truth = tmp_path / "truth.json"
    args = [
        sys.executable,
        "-m",
        "takt.cli",
        "sim",
        "--config",
        "simulators/plants/demo.yaml",
        "--opcua-port",
        str(ports["opcua"]),
        "--modbus-port",
        str(ports["modbus"]),
        "--http-port",
        str(ports["http"]),
        "--accel",
        "480",
        "--ground-truth",
        str(truth),
        "--scenario",
        "simulators/plants/demo_shift.yaml",
        "--state-dir",
        str(tmp_path / "state"),
    ]
    log = tmp_path / "sim.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(args, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        http = f"http://127.0.0.1:{ports['http']}"
        deadline, ready = time.monotonic() + 30, False
        while not ready and time.monotonic() < deadline and proc.poll() is None:
            try:
                ready = bool(call(http + "/healthz")[1]["ready"])
            except OSError:
                time.sleep(0.1)
        assert ready, log.read_text()
        text = log.read_text()
        assert f"opc.tcp://127.0.0.1:{ports['opcua']}" in text and f"127.0.0.1:{ports['modbus']}" in text
        assert f"http://127.0.0.1:{ports['http']}" in text and "scenario demo-shift" in text

        status, answer = call(http + "/faults", {"action": "explode", "machine": "cnc1"})
        assert status == 400 and "explode" in str(answer["error"])
        status, answer = call(http + "/faults", {"action": "fault", "machine": "cnc9"})
        assert status == 400 and "unknown machine 'cnc9'" in str(answer["error"])
        status, answer = call(http + "/faults", {"action": "modbus_exception", "machine": "mold1", "code": 4})
        assert status == 400 and "not a Modbus machine" in str(answer["error"])
        assert call(http + "/nope")[0] == 404
        assert call(http + "/ground-truth/parts")[0] == 400
        assert call(http + "/machines")[1]["cnc1"]["program"] == "O1001-SHAFT-D40"  # type: ignore[index]
        fault = [sys.executable, "-m", "takt.cli", "sim", "fault", "--http-port", str(ports["http"])]
        done = subprocess.run([*fault, '{"action": "set_state", "machine": "pack1", "state": "blocked"}'],
                              cwd=ROOT, capture_output=True, text=True, timeout=30)  # fmt: skip
        assert done.returncode == 0 and '"ok": true' in done.stdout
        assert call(http + "/healthz")[1]["machines"]["pack1"] == "blocked"  # type: ignore[index]
        done = subprocess.run([*fault, '{"action": "set_state", "machine": "pack1"}'],
                              cwd=ROOT, capture_output=True, text=True, timeout=30)  # fmt: skip
        assert done.returncode == 2 and "state: one of idle" in done.stderr
        last_seen = call(http + "/ground-truth")[1]
        while time.monotonic() < deadline and not all(m["good"] for m in last_seen["machines"].values()):  # type: ignore[attr-defined]
            time.sleep(0.05)
            last_seen = call(http + "/ground-truth")[1]
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=20)
    assert code == 0, log.read_text()
    data = json.loads(truth.read_text())
    assert set(data["machines"]) == {"cnc1", "cnc2", "press1", "pack1", "mold1", "mold2"}
    assert data["accel"] == 480 and data["now_ms"] >= last_seen["now_ms"]  # type: ignore[operator]
    for machine, truth in data["machines"].items():  # the file holds at least what the API showed last
        assert truth["good"] >= last_seen["machines"][machine]["good"] > 0  # type: ignore[index]
    assert "stopped" in log.read_text()


@pytest.mark.parametrize("flag", [["--accel", "0"], ["--scenario", "/nonexistent/shift.yaml"]])
def test_bad_flags_exit_2(flag: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "takt.cli", "sim", "--config", "simulators/plants/demo.yaml", *flag],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2 and "takt sim:" in result.stderr


@pytest.mark.parametrize("taken", ["--opcua-port", "--modbus-port"])
def test_a_taken_port_is_a_clean_error_and_nothing_keeps_running(tmp_path: Path, taken: str) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        ports = {"--opcua-port": free_port(), "--modbus-port": free_port(), "--http-port": free_port()}
        ports[taken] = blocker.getsockname()[1]
        flags = [str(x) for flag_and_port in ports.items() for x in flag_and_port]
        args = [sys.executable, "-m", "takt.cli", "sim", "--config", "simulators/plants/demo.yaml",
                "--state-dir", str(tmp_path / "s"), *flags]  # fmt: skip
        result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]  # (asyncua logs its own traceback before it)
    assert "ERROR simulators: " in last and "cannot listen" in last and str(ports[taken]) in last
