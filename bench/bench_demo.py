"""`takt demo`: seconds from launch to ready (fresh folder, then again on the same folder), from ready to the
first machine count in a work order, and from SIGINT to exit. Issue 7's target: ready in under 120 s."""

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from bench.table import Table

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 120.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(check: Callable[[], bool], timeout: float) -> float:
    """Seconds until `check()` is true (polled every 50 ms)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            if check():
                return time.monotonic() - start
        except OSError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"not within {timeout} s")


def _press_count(base: str, token: str) -> int:
    request = urllib.request.Request(
        f"{base}/api/v1/work-orders/WO-2311-042/progress", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=5) as resp:
        ops = json.loads(resp.read())["operations"]
    return int(next(op["machine_counts"]["good"] for op in ops if op["machine"] == "press1"))


def _run_once(data_dir: Path, table: Table, label: str) -> None:
    port, token = _free_port(), secrets.token_urlsafe(24)
    ports = [str(_free_port()) for _ in range(4)]
    args = ["demo", "--port", str(port), "--data-dir", str(data_dir), "--accel", "20",
            "--broker-port", ports[0], "--modbus-port", ports[1], "--opcua-port", ports[2],
            "--sim-http-port", ports[3]]  # fmt: skip
    out = data_dir.parent / f"{label}.out"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TAKT_ADMIN_TOKEN": token}
    with out.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "takt.cli", *args], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        ready = _wait(lambda: "takt demo: ready" in out.read_text(errors="replace"), 300)
        table.add(f"launch -> ready, {label}", ready, "s", TARGET_S, "of the 120 s target")
        base = f"http://127.0.0.1:{port}"
        start = _press_count(base, token)
        table.add(f"ready -> next press1 count in WO-2311-042, {label}",
                  _wait(lambda: _press_count(base, token) > start, 120), "s")  # fmt: skip
        proc.send_signal(signal.SIGINT)
        table.add(f"SIGINT -> every part stopped, {label}", _wait(lambda: proc.poll() is not None, 120), "s")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def run() -> Table:
    table = Table("takt demo: start, first counts, stop (accel 20, free ports)")
    with tempfile.TemporaryDirectory(prefix="takt-bench-demo-") as tmp:
        data_dir = Path(tmp) / "var"
        _run_once(data_dir, table, "fresh folder")
        _run_once(data_dir, table, "second start")
    return table
