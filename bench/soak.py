"""The soak (issue 19), `make bench-soak`: the demo plant at accel 60 for SOAK_SECONDS (default 600, i.e. 10
factory hours) with its station tablets signed in and 5 boss phones following, as bench_steady's clients do.

Every SAMPLE_S the RSS, open files (/proc/PID/fd) and CPU time of every process of the demo (the launcher
and each child it reports in demo-status.json) are read. Per process: CPU share after WARMUP_S, RSS after
WARMUP_S, at the end and at its peak, growth after warm-up (target <= 10 %), open files at warm-up and at
the end. A leak shows as growth that keeps going: the table also gives the growth over the second half.
"""

import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.bench_demo import ROOT, _free_port, _wait
from bench.bench_edge import cpu_seconds
from bench.bench_steady import Clients, Tablet, rss_mb
from bench.table import Table

SECONDS = float(os.environ.get("SOAK_SECONDS", "600"))
WARMUP_S = min(120.0, SECONDS / 4)
SAMPLE_S = 10.0
GROWTH_TARGET = 0.10
BADGES = [("1001", "1234"), ("1002", "5678")]  # the demo's operators (server/seed.py)


def _open_files(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _start(data_dir: Path) -> tuple[subprocess.Popen[bytes], dict[str, object]]:
    port = _free_port()
    ports = [str(_free_port()) for _ in range(4)]
    args = ["demo", "--port", str(port), "--data-dir", str(data_dir), "--accel", "60",
            "--broker-port", ports[0], "--modbus-port", ports[1], "--opcua-port", ports[2],
            "--sim-http-port", ports[3]]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TAKT_ADMIN_TOKEN": secrets.token_urlsafe(24),
           "TAKT_SIGNIN_RATE_BURST": "1000"}  # fmt: skip
    log = (data_dir.parent / "demo.out").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "takt.cli", *args], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    status = data_dir / "demo-status.json"
    _wait(status.exists, 300)
    time.sleep(0.5)  # written whole before the ready line; read it once it has settled
    return proc, json.loads(status.read_text())


def _tablets(status: dict[str, object]) -> list[Tablet]:
    stations = status["stations"]
    assert isinstance(stations, dict)
    out: list[Tablet] = []
    for i, (station, url) in enumerate(sorted(stations.items())):
        badge, pin = BADGES[i % len(BADGES)]
        out.append((station, station, "/station/" + str(url).split("/station/", 1)[1], badge, pin))
    return out


def run() -> Table:
    table = Table(f"soak: the demo plant at accel 60 for {SECONDS:.0f} s ({SECONDS / 60:.0f} factory hours), "
                  f"RSS and open files per process after {WARMUP_S:.0f} s warm-up")  # fmt: skip
    samples: dict[str, list[tuple[float, float, int, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="takt-bench-soak-") as tmp:
        proc, status = _start(Path(tmp) / "var")
        pids = {"demo launcher": proc.pid, **{str(k): int(v) for k, v in dict(status["pids"]).items() if v}}  # type: ignore[call-overload]
        clients = Clients(str(status["base_url"]))
        try:
            clients.start(_tablets(status), [("boss", "takt-boss")] * 5)
            start = time.monotonic()
            while (elapsed := time.monotonic() - start) < SECONDS:
                for name, pid in pids.items():
                    row = (elapsed, rss_mb(pid), _open_files(pid), cpu_seconds(pid))
                    samples.setdefault(name, []).append(row)
                time.sleep(SAMPLE_S)
        finally:
            clients.close()
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(120)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
    table.add("client re-reads (tablets and bosses)", clients.requests / SECONDS, "req/s")
    table.add("client requests that failed", clients.errors, "")
    for name, rows in samples.items():
        after = [r for r in rows if r[0] >= WARMUP_S]
        half = [r for r in rows if r[0] >= (WARMUP_S + SECONDS) / 2]
        warm, end = after[0], after[-1]
        growth = (end[1] - warm[1]) / warm[1]
        cpu = (end[3] - warm[3]) / (end[0] - warm[0]) if end[0] > warm[0] else 0.0
        table.add(f"{name}: CPU after warm-up, share of one core", cpu * 100, "%")
        table.add(f"{name}: RSS after warm-up", warm[1], "MB")
        table.add(f"{name}: RSS at the end (peak {max(r[1] for r in after):.1f})", end[1], "MB")
        table.add(
            f"{name}: RSS growth after warm-up", growth * 100, "%", GROWTH_TARGET * 100, "of the 10% target"
        )
        table.add(f"{name}: RSS growth over the second half", (end[1] - half[0][1]) / half[0][1] * 100, "%")
        table.add(f"{name}: open files after warm-up -> end", end[2], f"(from {warm[2]})")
    return table


if __name__ == "__main__":
    print(run().render())
