"""The boss page's data on a phone: bytes per hour on the demo plant at accel 1 (issue 13's target: <= 1 MB).

`takt demo` at accel 1 on free ports; the boss signs in on /boss in headless Chromium (390x844) and stays
there. Bytes are Chromium's own count of what came over the wire (`encodedDataLength` of every response,
compressed as sent, plus the SSE stream's data frames), measured over WINDOW_S after the page loaded and
scaled to an hour; the first load is reported apart (a phone loads the page once an hour at most)."""

import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

from bench.bench_demo import ROOT, _free_port, _wait
from bench.table import Table

WINDOW_S = 180.0
TARGET_MB_PER_HOUR = 1.0


def _start_demo(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    ports = [str(_free_port()) for _ in range(4)]
    args = ["demo", "--port", str(port), "--data-dir", str(data_dir), "--accel", "1",
            "--broker-port", ports[0], "--modbus-port", ports[1], "--opcua-port", ports[2],
            "--sim-http-port", ports[3]]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TAKT_ADMIN_TOKEN": secrets.token_urlsafe(24)}
    log = (data_dir.parent / "demo.out").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "takt.cli", *args], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    _wait(lambda: (data_dir / "demo-status.json").exists(), 180)
    return proc, base


def _measure(base: str) -> tuple[int, int, int]:
    """(bytes of the first load, bytes during WINDOW_S after it, fragment re-reads in the window)."""
    counted: dict[str, int] = {"bytes": 0, "fetches": 0}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")

        def finished(event: dict[str, Any]) -> None:
            counted["bytes"] += int(event.get("encodedDataLength", 0))

        def sse(event: dict[str, Any]) -> None:  # EventSource frames never "finish" while the page lives
            counted["bytes"] += len(str(event.get("data", "")).encode()) + len(
                str(event.get("eventName", ""))
            )

        def request(event: dict[str, Any]) -> None:
            if "/boss/fragment" in event.get("request", {}).get("url", ""):
                counted["fetches"] += 1

        cdp.on("Network.loadingFinished", finished)
        cdp.on("Network.eventSourceMessageReceived", sse)
        cdp.on("Network.requestWillBeSent", request)
        page.goto(f"{base}/login?next=/boss")
        page.fill("input[name=username]", "boss")
        page.fill("input[name=password]", "takt-boss")
        page.click("button[type=submit]")
        page.wait_for_url("**/boss")
        page.wait_for_load_state("networkidle")
        first = counted["bytes"]
        counted["bytes"], counted["fetches"] = 0, 0
        page.wait_for_timeout(WINDOW_S * 1000)
        window, fetches = counted["bytes"], counted["fetches"]
        browser.close()
    return first, window, fetches


def run() -> Table:
    scale = f"{WINDOW_S:.0f} s x {3600 / WINDOW_S:.0f}"
    table = Table(f"boss page on a phone: bytes on the wire, demo plant at accel 1 ({scale})")
    with tempfile.TemporaryDirectory(prefix="takt-bench-boss-") as tmp:
        data_dir = Path(tmp) / "var"
        proc, base = _start_demo(data_dir)
        try:
            time.sleep(20)  # the edge and the first counts
            first, window, fetches = _measure(base)
        finally:
            proc.send_signal(2)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
    per_hour_mb = window * 3600 / WINDOW_S / 1e6
    table.add("bytes per hour (live events + re-reads)", per_hour_mb, "MB/h", TARGET_MB_PER_HOUR,
              "of the 1 MB/h target")  # fmt: skip
    table.add("first load (login, page, assets)", first / 1000, "kB")
    table.add("fragment re-reads per hour", fetches * 3600 / WINDOW_S, "/h")
    return table
