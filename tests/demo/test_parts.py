"""The demo with parts missing runs what exists and says what is missing; bad flags fail clearly."""

import io
import signal
import socket
import threading
import time
from pathlib import Path

import pytest

from takt.demo import main
from takt.demo.options import parse
from takt.demo.parts import Parts, detect
from takt.demo.runner import READY_LINE, Demo
from takt.demo.state import DataDir
from tests.support.ports import free_port


def test_every_part_is_present_in_this_tree() -> None:
    assert [p.name for p in detect().missing()] == []


def test_missing_parts_are_named_and_the_rest_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parts = Parts()
    for name in ("simulator", "edge", "server", "ingest", "seed"):
        parts.add(name, False, f"{name} is not built yet")
    parts.add("segno", True, "segno")
    monkeypatch.setattr("takt.demo.runner.detect", lambda: parts)
    opts = parse(["--port", str(free_port()), "--data-dir", str(tmp_path), "--broker", "embedded",
                  "--broker-port", str(free_port())])  # fmt: skip
    out = io.StringIO()
    demo = Demo(opts, out)

    def stop_when_ready() -> None:
        deadline = time.monotonic() + 30
        while READY_LINE not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.05)
        demo.stopping.set()

    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    stopper = threading.Thread(target=stop_when_ready)
    stopper.start()
    try:
        assert demo.run() == 0
    finally:
        stopper.join()
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    text = out.getvalue()
    assert READY_LINE in text
    assert "running: broker" in text and "embedded amqtt" in text
    for name in ("simulator", "edge", "server"):
        assert f"MISSING: {name}: {name} is not built yet" in text
    assert "stopped" in text


def test_busy_server_port_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["--port", str(port)]) == 2
    assert f"port {port} is in use" in capsys.readouterr().err


def test_bad_accel_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--accel", "0", "--port", str(free_port())]) == 2
    assert "--accel must be greater than 0" in capsys.readouterr().err


def test_reset_removes_only_the_demo_state_and_secrets_persist(tmp_path: Path) -> None:
    dirs = DataDir(tmp_path)
    dirs.prepare(reset=False)
    first = dirs.secrets(["cnc1"])
    assert dirs.secrets(["cnc1", "cnc2"]).tablet_tokens["cnc1"] == first.tablet_tokens["cnc1"]
    dirs.db.write_bytes(b"db")
    (dirs.logs / "server.log").write_text("log")
    (tmp_path / "notes.txt").write_text("not the demo's")
    dirs.prepare(reset=True)
    assert not dirs.db.exists() and not (dirs.logs / "server.log").exists()
    assert (tmp_path / "notes.txt").exists()
    assert dirs.secrets(["cnc1"]).share_token != first.share_token
