"""`takt server migrate` and `takt server import-edge FILE` against a real database."""

from pathlib import Path

import pytest
from sqlmodel import Session, select

from server import cli
from server.core.db import make_engine
from server.models.plant import Machine, Tag

EDGE = Path(__file__).resolve().parents[2] / "deploy" / "edge" / "demo.yaml"


def test_migrate_and_import_edge(empty_db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    monkeypatch.setenv("TAKT_DATABASE_URL", empty_db_url)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["migrate"]) == 0
    assert cli.main(["import-edge", str(EDGE)]) == 0
    first = capsys.readouterr().out
    assert "edge line-a (site demo)" in first and " 0 tags created" not in first
    engine = make_engine(empty_db_url)
    with Session(engine) as session:
        cnc1 = session.exec(select(Machine).where(Machine.code == "cnc1")).one()
        roles = {
            t.name: (t.role, t.width) for t in session.exec(select(Tag).where(Tag.machine_id == cnc1.id))
        }
    assert (
        cnc1.edge_id == "line-a" and roles["good_count"] == ("counter", 16) and roles["running"][0] == "run"
    )
    assert cli.main(["import-edge", str(EDGE)]) == 0  # again: nothing new
    assert "0 machines created, 0 tags created, 0 updated" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("site: demo\nedge_id: x\ndevices: [{name: d, protocol: carrier-pigeon}]\n")
    assert cli.main(["import-edge", str(bad)]) == 1
    assert "bad.yaml" in capsys.readouterr().err


def test_takt_server_serves(tmp_path: Path, port: int) -> None:
    """`takt server` in a subprocess: migrates, serves /healthz and the API, stops cleanly on Ctrl-C."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import httpx

    env = os.environ | {
        "TAKT_DATABASE_URL": f"sqlite:///{tmp_path / 'takt.db'}", "TAKT_SECRET_KEY": "s" * 32,
        "TAKT_ADMIN_TOKEN": "a" * 32, "TAKT_MQTT_ENABLED": "false", "TAKT_DEMO_MODE": "false",
    }  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "takt.cli", "server", "--port", str(port)], env=env,
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline, health = time.monotonic() + 30, None
        while time.monotonic() < deadline and health is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).json()
            except httpx.HTTPError:
                time.sleep(0.1)
        assert health == {"ok": True, "site": "demo"}
        listing = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/work-orders", headers={"Authorization": "Bearer " + "a" * 32}
        )
        assert listing.json()["total"] == 0
    finally:
        proc.send_signal(signal.SIGINT)
        output = proc.communicate(timeout=20)[0].decode()
    assert proc.returncode == 0 and "Traceback" not in output, output
    assert "Shutting down" in output and "a" * 32 not in output
