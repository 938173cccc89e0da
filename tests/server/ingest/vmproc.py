"""Debian's victoria-metrics binary on a free loopback port with a temporary storage dir (tests, bench)."""

import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.ports import free_port

VM = "/usr/bin/victoria-metrics"


@contextmanager
def victoria_metrics(workdir: Path, port: int | None = None) -> Iterator[str]:
    """Start VictoriaMetrics, yield its URL once /health answers, stop it afterwards."""
    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    args = [
        VM,
        f"-httpListenAddr=127.0.0.1:{port}",
        f"-storageDataPath={workdir / 'data'}",
        "-retentionPeriod=1y",
    ]
    with (workdir / "vm.log").open("wb") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_healthy(f"http://127.0.0.1:{port}", proc)
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def _wait_healthy(url: str, proc: "subprocess.Popen[bytes]", timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url + "/health", timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.1)
